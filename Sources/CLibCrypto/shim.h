// The system's OpenSSL libcrypto (Debian libssl-dev): SHA-2, HMAC and PBKDF2 for SCRAM, and the
// subject of a client certificate for ssl.principal.mapping.rules. swift-nio-ssl's BoringSSL
// carries prefixed symbols, so both libraries live in one process without clashing.
#ifndef RUNNEL_CLIBCRYPTO_SHIM_H
#define RUNNEL_CLIBCRYPTO_SHIM_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include <stddef.h>
#include <stdint.h>

/// The subject of the DER certificate `der` in RFC 2253 form (most significant RDN last, as Java's
/// X500Principal.getName() and so Kafka print it; UTF-8 kept as is), written to `out` without a NUL.
/// Returns its length, -1 if the certificate cannot be parsed, or -2 if it needs more than `cap` bytes.
static inline long runnel_certificate_subject_rfc2253(const uint8_t *der, long derLength, char *out, long cap) {
    const unsigned char *p = der;
    X509 *certificate = d2i_X509(NULL, &p, derLength);
    if (certificate == NULL) return -1;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        X509_free(certificate);
        return -1;
    }
    long result = -1;
    unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, flags) >= 0) {
        size_t pending = BIO_ctrl_pending(bio);
        if ((long)pending > cap) {
            result = -2;
        } else {
            int n = pending == 0 ? 0 : BIO_read(bio, out, (int)pending);
            result = n < 0 ? -1 : n;
        }
    }
    BIO_free(bio);
    X509_free(certificate);
    return result;
}

#endif
