/*
 * Included last in every .c file: these functions are too easy to misuse
 * (unbounded writes, hidden state), so calling them is a compile error.
 * Use etl_buf, snprintf or memcpy with an explicit length instead.
 */
#ifndef ETL_BANNED_H
#define ETL_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gets
#define gets(x) BANNED(gets)

#endif
