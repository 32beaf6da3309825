/*
 * node/client_crl.c — the client CA's revocation list (client_crl.h).
 *
 * GnuTLS parses and checks the lists: gnutls_x509_crl_verify that the CA
 * signed each, gnutls_x509_crt_check_revocation whether a certificate's
 * issuer and serial are on one. This file only decides when to read the
 * file again, and keeps the list in force while a new one does not load.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "carechain/os.h"
#include "node/client_crl.h"
#include "node/log.h"

#define CRL_FILE_MAX (16u * 1024 * 1024)
/* what gnutls_x509_crl_verify reports about dates, not signatures: a list
 * past its next update is still the newest the CA gave (logged) */
#define CRL_DATE_BITS (GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED | GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE)

struct cc_client_crl {
    pthread_mutex_t mu;
    char path[PATH_MAX];
    gnutls_x509_crt_t *cas; /* the client CA's certificates */
    unsigned ca_count;
    gnutls_x509_crl_t *crls; /* the lists in force */
    unsigned crl_count;
    struct stat loaded;  /* the file they came from */
    struct stat refused; /* the last change that did not load (logged once) */
    uint64_t checked_ms;
    unsigned generation; /* loads so far */
};

static void crls_free(gnutls_x509_crl_t *crls, unsigned n)
{
    for (unsigned i = 0; i < n; i++) gnutls_x509_crl_deinit(crls[i]);
    gnutls_free(crls);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Read c->path into *out (n lists), each checked against c's CA; *st gets
 * the file's identity as read. */
static cc_err load(const cc_client_crl *c, gnutls_x509_crl_t **out, unsigned *n, struct stat *st,
                   cc_errbuf *eb)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (stat(c->path, st) != 0) {
        cc_errf(eb, CC_ERR_IO, "cannot read the revocation list %s: %s", c->path, strerror(errno));
        memset(st, 0, sizeof *st);
        return CC_ERR_IO;
    }
    cc_err rc = cc_file_read(c->path, CRL_FILE_MAX, &buf, &len, eb);
    if (rc != CC_OK) return rc;
    gnutls_datum_t d = {buf, (unsigned)len};
    gnutls_x509_crl_t *crls = NULL;
    unsigned count = 0;
    int rv = gnutls_x509_crl_list_import2(&crls, &count, &d, GNUTLS_X509_FMT_PEM, 0);
    free(buf);
    if (rv < 0 || count == 0) {
        if (rv >= 0) crls_free(crls, count);
        return cc_errf(eb, CC_ERR_MALFORMED, "%s holds no PEM certificate revocation list (%s)", c->path,
                       rv < 0 ? gnutls_strerror(rv) : "none found");
    }
    time_t now = time(NULL);
    for (unsigned i = 0; i < count; i++) {
        unsigned status = 0;
        rv = gnutls_x509_crl_verify(crls[i], c->cas, c->ca_count, 0, &status);
        if (rv < 0 || (status & ~(unsigned)CRL_DATE_BITS) != 0) {
            crls_free(crls, count);
            return cc_errf(eb, CC_ERR_VERIFY,
                           "%s: revocation list %u is not signed by the client CA (tls_client_ca)", c->path,
                           i + 1);
        }
        time_t next = gnutls_x509_crl_get_next_update(crls[i]);
        if (next != (time_t)-1 && next < now)
            cc_node_log(CC_LOG_WARN, "tls",
                        "%s: revocation list %u was due to be replaced %lld s ago; it is still applied, but "
                        "ask the CA for a new one",
                        c->path, i + 1, (long long)(now - next));
    }
    *out = crls;
    *n = count;
    return CC_OK;
}

cc_err cc_client_crl_open(const char *path, const char *ca_pem, cc_client_crl **out, cc_errbuf *eb)
{
    if (strlen(path) >= PATH_MAX) return cc_errf(eb, CC_ERR_USAGE, "the revocation list's path is too long");
    cc_client_crl *c = calloc(1, sizeof *c);
    if (!c) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    pthread_mutex_init(&c->mu, NULL);
    gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
    cc_err rc = CC_OK;
    int rv = gnutls_x509_crt_list_import2(&c->cas, &c->ca_count, &ca, GNUTLS_X509_FMT_PEM, 0);
    if (rv < 0 || c->ca_count == 0)
        rc = cc_errf(eb, CC_ERR_MALFORMED, "the client CA (tls_client_ca) holds no PEM certificate (%s)",
                     rv < 0 ? gnutls_strerror(rv) : "none found");
    if (rc == CC_OK) rc = load(c, &c->crls, &c->crl_count, &c->loaded, eb);
    if (rc != CC_OK) {
        cc_client_crl_close(c);
        return rc;
    }
    c->checked_ms = cc_now_ms();
    c->generation = 1;
    *out = c;
    return CC_OK;
}

/* Read the file again if it changed since it was loaded (mu held). */
static void reload_locked(cc_client_crl *c)
{
    uint64_t now = cc_now_ms();
    if (now - c->checked_ms < CC_CRL_RECHECK_MS) return;
    c->checked_ms = now;
    struct stat st;
    memset(&st, 0, sizeof st); /* a file gone stays "refused" as all zeros: logged once */
    if (stat(c->path, &st) == 0 && (same_file(&st, &c->loaded) || same_file(&st, &c->refused))) return;
    gnutls_x509_crl_t *crls = NULL;
    unsigned n = 0;
    cc_errbuf eb = {{0}};
    if (load(c, &crls, &n, &st, &eb) != CC_OK) {
        if (!same_file(&st, &c->refused))
            cc_node_log(CC_LOG_ERROR, "tls",
                        "the revocation list changed but does not load: %s; the one loaded "
                        "before stays in force",
                        eb.msg);
        c->refused = st;
        return;
    }
    crls_free(c->crls, c->crl_count);
    c->crls = crls;
    c->crl_count = n;
    c->loaded = st;
    c->generation++;
    cc_node_log(CC_LOG_INFO, "tls", "revocation list %s loaded again (%u list%s)", c->path, n,
                n == 1 ? "" : "s");
}

bool cc_client_crl_revoked(cc_client_crl *c, const unsigned char *der, size_t der_len)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)der_len};
    if (gnutls_x509_crt_init(&crt) < 0) return true; /* cannot tell: refuse */
    bool revoked = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0;
    pthread_mutex_lock(&c->mu);
    reload_locked(c);
    if (!revoked) revoked = gnutls_x509_crt_check_revocation(crt, c->crls, c->crl_count) != 0;
    pthread_mutex_unlock(&c->mu);
    gnutls_x509_crt_deinit(crt);
    return revoked;
}

unsigned cc_client_crl_generation(cc_client_crl *c)
{
    pthread_mutex_lock(&c->mu);
    reload_locked(c);
    unsigned g = c->generation;
    pthread_mutex_unlock(&c->mu);
    return g;
}

void cc_client_crl_close(cc_client_crl *c)
{
    if (!c) return;
    crls_free(c->crls, c->crl_count);
    for (unsigned i = 0; i < c->ca_count; i++) gnutls_x509_crt_deinit(c->cas[i]);
    gnutls_free(c->cas);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
