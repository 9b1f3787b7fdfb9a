/* Binary COPY encoding; see copybin.h. */
#include "copybin.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "etl/error.h"

#include "banned.h"

static int put_be(etl_buf *b, uint64_t v, int bytes)
{
    unsigned char out[8];
    for (int i = 0; i < bytes; i++)
        out[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    return etl_buf_append(b, out, (size_t)bytes);
}

int etl_copybin_header(etl_buf *b)
{
    static const char signature[11] = "PGCOPY\n\377\r\n"; /* and the terminating NUL */
    if (etl_buf_append(b, signature, sizeof(signature)) != ETL_OK)
        return ETL_ERR_NOMEM;
    return put_be(b, 0, 4) == ETL_OK && put_be(b, 0, 4) == ETL_OK ? ETL_OK : ETL_ERR_NOMEM;
}

int etl_copybin_trailer(etl_buf *b)
{
    return put_be(b, 0xFFFF, 2);
}

int etl_copybin_tuple(etl_buf *b, int nfields)
{
    return put_be(b, (uint64_t)nfields, 2);
}

int etl_copybin_null(etl_buf *b)
{
    return put_be(b, 0xFFFFFFFFU, 4);
}

int etl_copybin_text(etl_buf *b, const char *s, size_t len)
{
    if (len > INT32_MAX)
        return ETL_ERR_INPUT;
    if (etl_buf_reserve(b, 4 + len) != ETL_OK || put_be(b, len, 4) != ETL_OK)
        return ETL_ERR_NOMEM;
    return etl_buf_append(b, s, len);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int etl_copybin_uuid(etl_buf *b, const char *s)
{
    unsigned char out[16];
    size_t k = 0;
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash) {
            if (s[i] != '-')
                return ETL_ERR_INPUT;
            continue;
        }
        int hi = hex_value(s[i]);
        int lo = hi < 0 ? -1 : hex_value(s[i + 1]);
        if (lo < 0)
            return ETL_ERR_INPUT;
        out[k++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    if (s[36] != '\0')
        return ETL_ERR_INPUT;
    if (put_be(b, 16, 4) != ETL_OK)
        return ETL_ERR_NOMEM;
    return etl_buf_append(b, out, sizeof(out));
}

/* Read exactly n digits at *p; -1 if they are not all digits. */
static long digits(const char **p, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Hinnant's algorithm). */
static int64_t days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400; /* astronomical years: 1 BC is year 0 */
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

static int days_in_month(long y, long m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* "+HH[:MM[:SS]]", "-..." or "Z" at p into seconds east of UTC; -1 if malformed. */
static int parse_offset(const char *p, long *east)
{
    if (*p == 'Z')
        return p[1] == '\0' ? 0 : -1;
    if (*p != '+' && *p != '-')
        return -1;
    long sign = *p == '-' ? -1 : 1;
    p++;
    long parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if ((parts[i] = digits(&p, 2)) < 0)
            return -1;
        if (*p != ':')
            break;
        p++;
    }
    if (*p != '\0' || parts[0] > 15 || parts[1] > 59 || parts[2] > 59)
        return -1;
    *east = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return 0;
}

int etl_parse_timestamptz(const char *s, int64_t *us)
{
    /* Binary timestamptz keeps the infinities at the ends of int64 (DT_NOBEGIN, DT_NOEND). */
    if (strcmp(s, "infinity") == 0 || strcmp(s, "-infinity") == 0) {
        *us = s[0] == '-' ? INT64_MIN : INT64_MAX;
        return 0;
    }
    /* PostgreSQL writes years before 1 as "YYYY-MM-DD ... BC", after the offset. */
    char text[64];
    size_t len = strlen(s);
    if (len >= sizeof(text))
        return -1;
    memcpy(text, s, len + 1);
    bool bc = len > 3 && strcmp(text + len - 3, " BC") == 0;
    if (bc)
        text[len - 3] = '\0';
    const char *p = text;
    long y = 0;
    int ndigits = 0;
    for (; ndigits < 7 && *p >= '0' && *p <= '9'; ndigits++, p++)
        y = y * 10 + (*p - '0'); /* 4 digits, up to 6 after 9999 (294276 is the last year) */
    if (ndigits < 4 || ndigits > 6 || y < 1 || *p++ != '-')
        return -1;
    if (bc)
        y = 1 - y;
    /* PostgreSQL's years (timestamp.h): 4714 BC to 294276; beyond, the microseconds overflow. */
    if (y < -4713 || y > 294276)
        return -1;
    long mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return -1;
    long d = digits(&p, 2);
    if (d < 1 || d > days_in_month(y, mo) || (*p != ' ' && *p != 'T'))
        return -1;
    p++;
    long h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return -1;
    long mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return -1;
    long sec = digits(&p, 2);
    if (sec < 0 || sec > 59)
        return -1;
    long frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; n < 6 && *p >= '0' && *p <= '9'; n++, p++)
            frac = frac * 10 + (*p - '0');
        if (n == 0 || (*p >= '0' && *p <= '9'))
            return -1; /* no digits, or more than microseconds: not what PostgreSQL prints */
        for (; n < 6; n++)
            frac *= 10;
    }
    long east = 0;
    if (*p != '\0' && parse_offset(p, &east) != 0)
        return -1;
    int64_t days = days_from_civil(y, mo, d) - days_from_civil(2000, 1, 1);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - east;
    int64_t t = secs * 1000000 + frac;
    /* MIN_TIMESTAMP (4714-11-24 BC, Julian day 0) to END_TIMESTAMP (294277-01-01), as timestamp.h.
     */
    if (t < -211813488000000000LL || t >= 9223371331200000000LL)
        return -1;
    *us = t;
    return 0;
}

int etl_copybin_timestamptz(etl_buf *b, const char *s)
{
    int64_t us = 0;
    if (etl_parse_timestamptz(s, &us) != 0)
        return ETL_ERR_INPUT;
    if (put_be(b, 8, 4) != ETL_OK)
        return ETL_ERR_NOMEM;
    return put_be(b, (uint64_t)us, 8);
}
