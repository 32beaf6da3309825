/*
 * date.h — calendar dates as whole days since 1970-01-01 (the proleptic
 * Gregorian calendar), for every module that reads or writes a date: GS1
 * expiry dates, claims' service dates, DSCSA transaction dates, EPCIS
 * event times. Pure functions; internal to the library.
 */
#ifndef CC_CORE_DATE_H
#define CC_CORE_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool cc_leap_year(int64_t y);
/* Days in month m (1..12) of year y. */
unsigned cc_month_days(int64_t y, unsigned m);
/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31; not checked). */
int64_t cc_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The date of a day number, the inverse of cc_days_from_civil. */
void cc_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* The value of the n ASCII digits at s (n <= 18), or -1 when one of them is
 * not a digit; reads no further than the first that is not. */
int64_t cc_digits_value(const char *s, size_t n);
/* s is exactly "YYYY-MM-DD" (ASCII digits, a month and day that exist);
 * *days gets its day number. False (and *days untouched) otherwise. */
bool cc_date_parse(const char *s, int64_t *days);

#endif
