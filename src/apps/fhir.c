/*
 * fhir.c — FHIR R4 renderings of the ledger's consents and audit events, for
 * the node's /fhir/ endpoints (docs/RECORDS.md "Endpoints"). Pure: the
 * caller passes the time that decides whether a consent is in force.
 *
 * Consent (consent/<id>):
 *   status       revoked, or past its period -> "inactive"; before its period
 *                -> "proposed"; else "active"
 *   scope        consentscope#patient-privacy; category LOINC 59284-0
 *   policyRule   v3-ActCode#OPTIN (permit) / #OPTOUT (deny): satisfies ppc-1
 *   provision    type, period, actor (v3-ParticipationType#IRCP: the
 *                grantee as Practitioner/<id> or Organization/<org>),
 *                action (consentaction: read -> access, write -> collect),
 *                purpose (v3-ActReason), class (resource-types), code (the
 *                scope's categories), data (the scope's records)
 * AuditEvent (audit/<patient>/<seq>):
 *   id the audit txid; type DCM#110110 Patient Record; subtype
 *   restful-interaction#read (one record) or #search-type (lists); action R
 *   or E; outcome 0 (granted) or 4 (denied) with outcomeDesc; break-glass
 *   reads carry meta.security v3-ActCode#BTG.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apps/records.h"

#define SYS_CONSENT_SCOPE   "http://terminology.hl7.org/CodeSystem/consentscope"
#define SYS_LOINC           "http://loinc.org"
#define SYS_ACT_CODE        "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define SYS_PARTICIPATION   "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define SYS_CONSENT_ACTION  "http://terminology.hl7.org/CodeSystem/consentaction"
#define SYS_ACT_REASON      "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define SYS_RESOURCE_TYPES  "http://hl7.org/fhir/resource-types"
#define SYS_DCM             "http://dicom.nema.org/resources/ontology/DCM"
#define SYS_RESTFUL         "http://hl7.org/fhir/restful-interaction"
#define SYS_AUDIT_ENTITY    "http://terminology.hl7.org/CodeSystem/audit-entity-type"
#define SYS_OBJECT_ROLE     "http://terminology.hl7.org/CodeSystem/object-role"
#define SYS_SOURCE_TYPE     "http://terminology.hl7.org/CodeSystem/security-source-type"
#define SYS_RECORD_ID       "urn:carechain:record"
#define SYS_RECORD_CATEGORY "urn:carechain:record-category"
#define SYS_AUDIT_REQUEST   "urn:carechain:request-signature-sha256"
#define ISO_TIME_BYTES      64

/* ms since the epoch -> "2025-11-25T16:20:00.123Z". */
static const char *iso_time(uint64_t ms, char out[ISO_TIME_BYTES])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, ISO_TIME_BYTES, "1970-01-01T00:00:00.000Z");
        return out;
    }
    snprintf(out, ISO_TIME_BYTES, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
    return out;
}

static json_t *coding(const char *system, const char *code, const char *display)
{
    json_t *c = json_pack("{s:s, s:s}", "system", system, "code", code);
    if (c && display) json_object_set_new(c, "display", json_string(display));
    return c;
}

/* A CodeableConcept of one coding. */
static json_t *concept(const char *system, const char *code, const char *display)
{
    return json_pack("{s:[o]}", "coding", coding(system, code, display));
}

static json_t *reference(const char *type, const char *id)
{
    char ref[256];
    snprintf(ref, sizeof ref, "%s/%s", type, id);
    return json_pack("{s:s}", "reference", ref);
}

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

static uint64_t ms_of(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* ---- Consent --------------------------------------------------------------------- */

/* "active", "inactive" (revoked or expired) or "proposed" (not valid yet). */
static const char *consent_status(const json_t *c, uint64_t now_ms)
{
    const json_t *period = json_object_get(c, "period");
    const json_t *until = json_object_get(period, "until");
    uint64_t from = ms_of(json_object_get(period, "from"));
    if (!json_object_get(period, "from")) from = ms_of(json_object_get(c, "granted_at"));
    const char *status = str(c, "status");
    if (!status || strcmp(status, "active") != 0) return "inactive";
    if (json_is_integer(until) && now_ms >= ms_of(until)) return "inactive";
    if (now_ms < from) return "proposed";
    return "active";
}

/* provision.actor: the grantee as the information recipient. */
static json_t *consent_actor(const json_t *c)
{
    const json_t *g = json_object_get(c, "grantee");
    const char *id = str(g, "identity"), *org = str(g, "org");
    json_t *ref = id ? reference("Practitioner", id) : reference("Organization", org ? org : "unknown");
    return json_pack("[{s:o, s:o}]", "role", concept(SYS_PARTICIPATION, "IRCP", "information recipient"),
                     "reference", ref);
}

static json_t *consent_actions(const json_t *c)
{
    json_t *out = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(c, "actions"), i, a)
    {
        const char *s = json_string_value(a);
        if (s && strcmp(s, "read") == 0)
            json_array_append_new(out, concept(SYS_CONSENT_ACTION, "access", "Access"));
        else if (s && strcmp(s, "write") == 0)
            json_array_append_new(out, concept(SYS_CONSENT_ACTION, "collect", "Collect"));
    }
    return out;
}

/* Each string of list as a Coding of system. */
static json_t *codings(const json_t *list, const char *system)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v)) json_array_append_new(out, coding(system, json_string_value(v), NULL));
    }
    return out;
}

/* provision.data: each scoped record. With one resource type in the scope
 * the reference names it (Observation/<id>); otherwise the record is named
 * by its identifier (the consent alone does not say its type). */
static json_t *consent_data(const json_t *scope)
{
    const json_t *types = json_object_get(scope, "resourceTypes");
    const char *type = json_array_size(types) == 1 ? json_string_value(json_array_get(types, 0)) : NULL;
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(scope, "records"), i, v)
    {
        const char *id = json_string_value(v);
        if (!id) continue;
        json_t *ref = type ? reference(type, id)
                           : json_pack("{s:{s:s, s:s}}", "identifier", "system", SYS_RECORD_ID, "value", id);
        json_array_append_new(out, json_pack("{s:s, s:o}", "meaning", "instance", "reference", ref));
    }
    return out;
}

static json_t *consent_provision(const json_t *c)
{
    const json_t *period = json_object_get(c, "period"), *scope = json_object_get(c, "scope");
    const char *type = str(c, "provision");
    char start[ISO_TIME_BYTES], end[ISO_TIME_BYTES];
    uint64_t from = json_object_get(period, "from") ? ms_of(json_object_get(period, "from"))
                                                    : ms_of(json_object_get(c, "granted_at"));
    json_t *p = json_pack("{s:s, s:{s:s}, s:o, s:o}", "type",
                          type && strcmp(type, "deny") == 0 ? "deny" : "permit", "period", "start",
                          iso_time(from, start), "actor", consent_actor(c), "action", consent_actions(c));
    if (!p) return NULL;
    if (json_is_integer(json_object_get(period, "until")))
        json_object_set_new(json_object_get(p, "period"), "end",
                            json_string(iso_time(ms_of(json_object_get(period, "until")), end)));
    json_object_set_new(p, "purpose", codings(json_object_get(c, "purposes"), SYS_ACT_REASON));
    if (json_array_size(json_object_get(scope, "resourceTypes")) > 0)
        json_object_set_new(p, "class", codings(json_object_get(scope, "resourceTypes"), SYS_RESOURCE_TYPES));
    if (json_array_size(json_object_get(scope, "categories")) > 0) {
        json_t *code = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(scope, "categories"), i, v)
        {
            if (json_is_string(v))
                json_array_append_new(code, concept(SYS_RECORD_CATEGORY, json_string_value(v), NULL));
        }
        json_object_set_new(p, "code", code);
    }
    if (json_array_size(json_object_get(scope, "records")) > 0)
        json_object_set_new(p, "data", consent_data(scope));
    return p;
}

json_t *cc_fhir_consent(const json_t *consent, uint64_t now_ms)
{
    const char *id = str(consent, "id"), *patient = str(consent, "patient"), *by = str(consent, "granted_by");
    const char *provision = str(consent, "provision");
    char when[ISO_TIME_BYTES];
    if (!id || !patient) return NULL;
    bool deny = provision && strcmp(provision, "deny") == 0;
    json_t *performer = by && strcmp(by, patient) != 0 ? reference("RelatedPerson", by) /* a delegate */
                                                       : reference("Patient", patient);
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:[o], s:o, s:s, s:[o], s:o, s:o}", "resourceType", "Consent", "id", id,
        "status", consent_status(consent, now_ms), "scope",
        concept(SYS_CONSENT_SCOPE, "patient-privacy", "Privacy Consent"), "category",
        concept(SYS_LOINC, "59284-0", "Patient Consent"), "patient", reference("Patient", patient),
        "dateTime", iso_time(ms_of(json_object_get(consent, "granted_at")), when), "performer", performer,
        "policyRule",
        deny ? concept(SYS_ACT_CODE, "OPTOUT", "opt-out") : concept(SYS_ACT_CODE, "OPTIN", "opt-in"),
        "provision", consent_provision(consent));
}

/* ---- AuditEvent ---------------------------------------------------------------------- */

/* Requests about one record are reads; the lists and searches are
 * search-type interactions (executed queries). */
static bool is_read(const json_t *event)
{
    return json_is_string(json_object_get(event, "record"));
}

static json_t *audit_agent(const json_t *event)
{
    const char *requester = str(event, "requester"), *patient = str(event, "patient"),
               *purpose = str(event, "purpose");
    json_t *agent = json_pack(
        "{s:o, s:o, s:b}", "type", concept(SYS_PARTICIPATION, "IRCP", "information recipient"), "who",
        reference(requester && patient && strcmp(requester, patient) == 0 ? "Patient" : "Practitioner",
                  requester ? requester : "unknown"),
        "requestor", 1);
    if (agent && purpose)
        json_object_set_new(agent, "purposeOfUse", json_pack("[o]", concept(SYS_ACT_REASON, purpose, NULL)));
    return json_pack("[o]", agent);
}

static json_t *audit_entities(const json_t *event)
{
    const char *patient = str(event, "patient"), *record = str(event, "record");
    json_t *details = json_array();
    if (str(event, "endpoint"))
        json_array_append_new(
            details, json_pack("{s:s, s:s}", "type", "endpoint", "valueString", str(event, "endpoint")));
    if (str(event, "request"))
        json_array_append_new(details, json_pack("{s:s, s:s}", "type", SYS_AUDIT_REQUEST, "valueString",
                                                 str(event, "request")));
    json_t *out =
        json_pack("[{s:o, s:o, s:o, s:o}]", "what", reference("Patient", patient ? patient : "unknown"),
                  "type", coding(SYS_AUDIT_ENTITY, "1", "Person"), "role",
                  coding(SYS_OBJECT_ROLE, "1", "Patient"), "detail", details);
    if (out && record)
        json_array_append_new(out, json_pack("{s:{s:{s:s, s:s}}, s:o, s:o}", "what", "identifier", "system",
                                             SYS_RECORD_ID, "value", record, "type",
                                             coding(SYS_AUDIT_ENTITY, "2", "System Object"), "role",
                                             coding(SYS_OBJECT_ROLE, "4", "Domain Resource")));
    return out;
}

json_t *cc_fhir_audit_event(const json_t *event)
{
    const char *txid = str(event, "txid"), *outcome = str(event, "outcome"), *node = str(event, "node");
    const char *reason = str(event, "reason");
    char when[ISO_TIME_BYTES];
    if (!txid) return NULL;
    bool granted = outcome && strcmp(outcome, "granted") == 0, read = is_read(event);
    json_t *ev = json_pack(
        "{s:s, s:s, s:o, s:[o], s:s, s:s, s:s, s:o, s:{s:o, s:[o]}, s:o}", "resourceType", "AuditEvent", "id",
        txid, "type", coding(SYS_DCM, "110110", "Patient Record"), "subtype",
        coding(SYS_RESTFUL, read ? "read" : "search-type", NULL), "action", read ? "R" : "E", "recorded",
        iso_time(ms_of(json_object_get(event, "time")), when), "outcome", granted ? "0" : "4", "agent",
        audit_agent(event), "source", "observer", reference("Device", node ? node : "unknown"), "type",
        coding(SYS_SOURCE_TYPE, "4", "Application Server"), "entity", audit_entities(event));
    if (!ev) return NULL;
    if (reason) json_object_set_new(ev, "outcomeDesc", json_string(reason));
    if (str(event, "purpose"))
        json_object_set_new(ev, "purposeOfEvent",
                            json_pack("[o]", concept(SYS_ACT_REASON, str(event, "purpose"), NULL)));
    if (json_is_true(json_object_get(event, "emergency")))
        json_object_set_new(ev, "meta",
                            json_pack("{s:[o]}", "security", coding(SYS_ACT_CODE, "BTG", "break the glass")));
    return ev;
}
