/*
 * sup_csvcell.c - formula cells in CSV exports (sup_csvcell.h).
 */
#include "sup_csvcell.h"

static int formula_start(char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

/* Apostrophes at the start of t, then a formula character? */
static int after_quotes(const char *t, size_t n, size_t min_quotes)
{
    size_t i = 0;
    while (i < n && t[i] == '\'')
        i++;
    return i >= min_quotes && i < n && formula_start(t[i]);
}

int sup_csv_needs_quote(const char *t, size_t n)
{
    return after_quotes(t, n, 0);
}

int sup_csv_quoted(const char *t, size_t n)
{
    return after_quotes(t, n, 1);
}
