/*
 * apps/trials.h — the clinical trial registry: trial.register, trial.amend,
 * trial.enroll, trial.withdraw and trial.results in exec, and the pure
 * views the node serves over the same state (the trial with its versions,
 * the results integrity report, counts with small cells suppressed, FHIR
 * R4 ResearchStudy and ResearchSubject).
 *
 * Everything here reads state only through a cc_state_reader and takes no
 * clock: the times it reports are the block times exec stored. The model,
 * every state key and the integrity rules with examples: docs/TRIALS.md.
 */
#ifndef CC_APPS_TRIALS_H
#define CC_APPS_TRIALS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "apps/records.h"
#include "carechain.h"
#include "exec/exec.h"

#define CC_TRIALS_ID_MAX            40  /* bytes of a trial id (NCT + 8 digits, or a sponsor's id) */
#define CC_TRIALS_TITLE_MAX         300 /* bytes of a title */
#define CC_TRIALS_MEASURE_MAX       200 /* bytes of an outcome measure (its identity) */
#define CC_TRIALS_TIME_FRAME_MAX    100 /* bytes of an outcome's time frame */
#define CC_TRIALS_DESCRIPTION_MAX   1000
#define CC_TRIALS_OUTCOMES_MAX      50 /* outcomes of one role, or reported at once */
#define CC_TRIALS_RESEARCHERS_MAX   50
#define CC_TRIALS_VALUE_MAX         200 /* bytes of a reported value or unit */
#define CC_TRIALS_REASON_MAX        500 /* bytes of an amendment's or withdrawal's reason */
#define CC_TRIALS_ENROLLMENT_MAX    10000000
#define CC_TRIALS_RESULTS_MAX       20     /* results postings of one trial */
#define CC_TRIALS_SUBJECTS_MAX      100000 /* subjects of one trial */
#define CC_TRIALS_REGISTRATION_DAYS 21     /* registration may follow the first enrolment by this */
#define CC_TRIALS_RESULTS_MONTHS    12     /* results are due this long after primary completion */
#define CC_TRIALS_MIN_CELL          5      /* stats: counts of 1..4 are suppressed */
#define CC_TRIALS_SUBJECT_SYSTEM    "urn:carechain:trial-subject"
#define CC_TRIALS_OUTCOME_EXTENSION "urn:carechain:fhir:trial-outcome"

/* NCT followed by exactly 8 digits, or a sponsor's id: 3..40 of
 * [A-Za-z0-9._-] starting with a letter or digit and not with "NCT". */
bool cc_trials_id_valid(const char *s);

/* ---- views (node) --------------------------------------------------------------- */

/* The trial as GET /v1/trials/{id} serves it: the head ("trial/<id>"),
 * "versions" (every version, oldest first), "enrolment" (first enrolment
 * time and txid, no counts) and "results" (every posting). *out: caller
 * decrefs. CC_ERR_NOT_FOUND when the trial is not registered; CC_ERR_CORRUPT,
 * CC_ERR_NOMEM or get's error. */
cc_err cc_trials_view(cc_state_reader get, void *ctx, const char *trial, json_t **out) CC_WUR;

/* The results integrity report (docs/TRIALS.md "Integrity rules"): a pure
 * function of the state, whose times are the block times of the txs that
 * wrote it. {"trial", "baselineVersion", "firstEnrolment", "resultsDue",
 * "findings": [{"rule", "message", "txids": [...], ...}], "clean": bool}.
 * Errors as cc_trials_view. */
cc_err cc_trials_integrity(cc_state_reader get, void *ctx, const char *trial, json_t **out) CC_WUR;

/* Counts that reveal no individual: planned, enrolled, active, withdrawn
 * and per site, each count of 1..CC_TRIALS_MIN_CELL-1 (and whatever would
 * let one be derived) shown as "suppressed". Errors as cc_trials_view. */
cc_err cc_trials_stats(cc_state_reader get, void *ctx, const char *trial, json_t **out) CC_WUR;

/* FHIR R4 ResearchStudy of version n (0 = the current one); outcomes,
 * planned enrolment, the primary completion date and the document hashes
 * in extensions. CC_ERR_NOT_FOUND when there is no such trial or version. */
cc_err cc_trials_fhir_study(cc_state_reader get, void *ctx, const char *trial, int64_t version,
                            json_t **out) CC_WUR;

/* A searchset's worth of FHIR R4 ResearchSubject for the trial, in
 * enrolment order: pseudonymous (a subject id, no patient id), with status
 * and period. CC_ERR_NOT_FOUND when nobody was ever enrolled. */
cc_err cc_trials_fhir_subjects(cc_state_reader get, void *ctx, const char *trial, json_t **out) CC_WUR;

/* May requester (hex) see the trial's subjects: the trial's sponsor
 * organisation's sponsors and admins, and the researchers it names? */
cc_err cc_trials_may_see_subjects(cc_state_reader get, void *ctx, const char *trial, const char *requester,
                                  bool *out) CC_WUR;

/* ---- research access (access.c, consent.c) -------------------------------------------- */

/* For a research consent (one naming a trial): is requester named as a
 * researcher on the trial's current version, and is patient enrolled in
 * it (not withdrawn)? */
cc_err cc_trials_research_check(cc_state_reader get, void *ctx, const char *trial, const char *patient,
                                const char *requester, bool *named, bool *enrolled) CC_WUR;

/* Exec: a research consent (the "consent/<id>" value, already marked
 * revoked) was revoked: the patient's participation in its trial ends
 * (withdrawn by the patient). Nothing happens when the patient was not
 * enrolled with it. */
cc_err cc_trials_consent_revoked(cc_exec_ctx *ctx, const json_t *consent, const char *reason);

#endif
