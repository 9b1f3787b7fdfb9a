/*
 * DURATION values of the in-place commands (`status --max-age`, `prune
 * --keep`, ...): a whole number with s, m, h or d, or plain seconds; and
 * the short age text their output uses.  No fractions and no combinations
 * (1h30m): 90m says the same, and one form is easier to check and explain.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "etl/config.h"
#include "etl/text.h"

#include "banned.h"

int cli_parse_duration(const char *text, long long *seconds)
{
    static const struct {
        char unit;
        long long mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char digits[32];
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len >= sizeof(digits))
        return -1;
    memcpy(digits, text, len + 1);
    long long mult = 1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (digits[len - 1] == units[i].unit) {
            mult = units[i].mult;
            digits[len - 1] = '\0';
            break;
        }
    }
    unsigned long long n = 0;
    if (etl_parse_ull(digits, 0, (unsigned long long)(CLI_DURATION_MAX / mult), &n) != 0)
        return -1;
    *seconds = (long long)n * mult;
    return 0;
}

void cli_format_age(double seconds, char *out, size_t cap)
{
    long long s = seconds > 0 ? (long long)seconds : 0;
    if (s < 60)
        snprintf(out, cap, "%llds", s);
    else if (s < 3600)
        snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, cap, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}
