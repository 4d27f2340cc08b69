/*
 * A C program that links libwalletd_wallet_ffi and runs what a native app would: open a wallet (the embedded
 * engine), a pre-authorized issuance against the interop issuer with the transaction code answered by a callback,
 * and the calls that must fail cleanly (null handle, bad JSON, bad UTF-8, wrong passphrase, a refusing signer).
 * The app signer keeps its P-256 key in OpenSSL (libcrypto), outside the wallet's store, as a keychain would.
 * Built and run by tests/c_program.rs:
 *   issue <wallet dir> <device config file> <offer refused> <offer ok> <offer app key> <tx refused> <tx ok> <tx app>
 * Prints "ok <check>" per check, "list <json>" at the end; exits non-zero at the first failed check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "walletd_wallet.h"

static int checks = 0;

#define CHECK(cond, what)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            char *e_ = walletd_last_error();                                               \
            fprintf(stderr, "FAILED %s (%s:%d): last error %s\n", what, __FILE__, __LINE__, \
                    e_ ? e_ : "(none)");                                                   \
            walletd_string_free(e_);                                                       \
            exit(1);                                                                       \
        }                                                                                  \
        printf("ok %s\n", what);                                                           \
        checks++;                                                                          \
    } while (0)

/* The last error's JSON contains `needle`. */
static int last_error_has(const char *needle) {
    char *e = walletd_last_error();
    int found = e != NULL && strstr(e, needle) != NULL;
    if (!found) fprintf(stderr, "last error %s lacks %s\n", e ? e : "(none)", needle);
    walletd_string_free(e);
    return found;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc((size_t)n + 1, 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* What the callbacks see through user_data. */
struct app {
    const char *tx_code;
    int tx_code_asked;
    int progress_steps;
    char *keys_json; /* the refusing signer lists the store's keys (so only signing fails) */
    int sign_asked;
    int released;
};

static void on_progress(void *user_data, const char *step) {
    struct app *app = user_data;
    (void)step;
    app->progress_steps++;
}

static int32_t on_tx_code(void *user_data, const char *request_json, WalletdAnswer *answer) {
    struct app *app = user_data;
    app->tx_code_asked++;
    if (request_json == NULL || strchr(request_json, '{') == NULL) return 1;
    return walletd_answer_set(answer, app->tx_code) == WALLETD_OK ? 0 : 1;
}

static int32_t refusing_keys(void *user_data, WalletdAnswer *answer) {
    struct app *app = user_data;
    return walletd_answer_set(answer, app->keys_json) == WALLETD_OK ? 0 : 1;
}

static int32_t refusing_sign(void *user_data, const char *key_id, const char *purpose, const uint8_t *message,
                             size_t message_len, WalletdAnswer *answer) {
    struct app *app = user_data;
    (void)key_id;
    (void)message;
    app->sign_asked++;
    if (strcmp(purpose, "issuance_proof") != 0 || message_len == 0) return 2;
    walletd_answer_set(answer, "the user cancelled the biometric prompt");
    return 1;
}

/* base64url without padding of n bytes into out (room for 4 * n / 3 + 4). */
static void b64url(const uint8_t *in, size_t n, char *out) {
    static const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = abc[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = abc[v & 63];
    }
    out[o] = 0;
}

/* The app's key, in OpenSSL: the wallet only ever sees its public JWK and its signatures. */
struct keychain {
    EVP_PKEY *key;
    char jwk_list[256];
    int signed_count;
    int released;
};

static int keychain_init(struct keychain *kc) {
    kc->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!kc->key) return 0;
    BIGNUM *x = NULL, *y = NULL;
    uint8_t xb[32], yb[32];
    char xs[48], ys[48];
    int ok = EVP_PKEY_get_bn_param(kc->key, OSSL_PKEY_PARAM_EC_PUB_X, &x) &&
             EVP_PKEY_get_bn_param(kc->key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) && BN_bn2binpad(x, xb, 32) == 32 &&
             BN_bn2binpad(y, yb, 32) == 32;
    BN_free(x);
    BN_free(y);
    if (!ok) return 0;
    b64url(xb, 32, xs);
    b64url(yb, 32, ys);
    snprintf(kc->jwk_list, sizeof kc->jwk_list,
             "[{\"id\":\"c-key\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}}]", xs, ys);
    return 1;
}

static int32_t keychain_keys(void *user_data, WalletdAnswer *answer) {
    struct keychain *kc = user_data;
    return walletd_answer_set(answer, kc->jwk_list) == WALLETD_OK ? 0 : 1;
}

/* ES256: SHA-256 + ECDSA in OpenSSL (DER), converted to the 64-byte r || s the wallet wants. */
static int32_t keychain_sign(void *user_data, const char *key_id, const char *purpose, const uint8_t *message,
                             size_t message_len, WalletdAnswer *answer) {
    struct keychain *kc = user_data;
    (void)purpose;
    if (strcmp(key_id, "c-key") != 0) return 1;
    uint8_t der[80], raw[64];
    size_t der_len = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, kc->key) == 1 &&
             EVP_DigestSign(ctx, der, &der_len, message, message_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return 1;
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!sig) return 1;
    ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    if (!ok) return 1;
    kc->signed_count++;
    return walletd_answer_set_bytes(answer, raw, sizeof raw) == WALLETD_OK ? 0 : 1;
}

static void keychain_release(void *user_data) {
    struct keychain *kc = user_data;
    kc->released++;
}

static void on_release(void *user_data) {
    struct app *app = user_data;
    app->released++;
}

/* The "keys" array of a list answer, copied (a tiny scan: the library's JSON has no brackets in strings here). */
static char *keys_array(const char *list_json) {
    const char *start = strstr(list_json, "\"keys\":[");
    if (!start) return NULL;
    start += strlen("\"keys\":");
    int depth = 0;
    const char *p = start;
    for (; *p; p++) {
        if (*p == '[') depth++;
        if (*p == ']' && --depth == 0) break;
    }
    if (*p != ']') return NULL;
    size_t n = (size_t)(p - start) + 1;
    char *out = calloc(n + 1, 1);
    if (out) memcpy(out, start, n);
    return out;
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: %s DIR CONFIG OFFER_REFUSED OFFER_OK OFFER_APP TX_REFUSED TX_OK TX_APP\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char *config = read_file(argv[2]);
    CHECK(config != NULL, "read the device configuration");
    CHECK(walletd_version() != NULL && strlen(walletd_version()) > 0, "version");

    /* Null handles, null out-pointers, bad UTF-8: error codes and JSON, never a crash. */
    char *out = (char *)0x1;
    CHECK(walletd_wallet_list(NULL, &out) == WALLETD_ERR_INVALID_ARGUMENT && out == (char *)0x1,
          "null wallet is invalid_argument");
    CHECK(last_error_has("\"kind\":\"invalid_argument\"") && last_error_has("wallet is null"),
          "null wallet error JSON");
    CHECK(walletd_wallet_close(NULL) == WALLETD_OK, "closing null is a no-op");
    walletd_string_free(NULL);
    WalletdWallet *w = (WalletdWallet *)0x1;
    CHECK(walletd_wallet_open(NULL, "pw", config, WALLETD_OPEN_CREATE, &w) == WALLETD_ERR_INVALID_ARGUMENT &&
              w == (WalletdWallet *)0x1,
          "null dir");
    CHECK(walletd_wallet_open(dir, "pw", config, 0, &w) == WALLETD_ERR_NOT_FOUND && w == NULL,
          "no wallet yet is not_found");
    CHECK(walletd_wallet_open(dir, "pw", "engine: [", 0, &w) == WALLETD_ERR_CONFIG, "bad config is config");

    /* Create, close, a wrong passphrase, open again. */
    CHECK(walletd_wallet_open(dir, "correct horse", config, WALLETD_OPEN_CREATE, &w) == WALLETD_OK && w != NULL,
          "create");
    CHECK(walletd_wallet_close(w) == WALLETD_OK, "close");
    w = NULL;
    CHECK(walletd_wallet_open(dir, "wrong horse", config, 0, &w) == WALLETD_ERR_WRONG_KEY && w == NULL,
          "wrong passphrase is wrong_key");
    CHECK(last_error_has("\"step\":\"open_store\"") && last_error_has("wrong passphrase"), "wrong passphrase JSON");
    uint8_t key[32] = {0};
    CHECK(walletd_wallet_open_with_key(dir, key, sizeof key, config, 0, &w) == WALLETD_ERR_WRONG_KEY,
          "a key for a passphrase wallet is wrong_key");
    CHECK(walletd_wallet_open_with_key(dir, key, 31, config, 0, &w) == WALLETD_ERR_INVALID_ARGUMENT,
          "a short key is invalid_argument");
    CHECK(walletd_wallet_open(dir, "correct horse", config, 0, &w) == WALLETD_OK, "open");
    CHECK(walletd_last_error() == NULL, "no last error after success");

    CHECK(walletd_wallet_accept_offer(w, argv[4], "{not json", NULL, &out) == WALLETD_ERR_INVALID_ARGUMENT &&
              out == NULL,
          "bad options JSON");
    CHECK(walletd_wallet_accept_offer(w, argv[4], "{\"colour\": 1}", NULL, &out) == WALLETD_ERR_INVALID_ARGUMENT,
          "unknown option");
    CHECK(walletd_wallet_accept_offer(w, "\xff\xfe", NULL, NULL, &out) == WALLETD_ERR_INVALID_ARGUMENT &&
              last_error_has("not UTF-8"),
          "offer not UTF-8");
    CHECK(walletd_wallet_accept_offer(w, argv[4], NULL, NULL, NULL) == WALLETD_ERR_INVALID_ARGUMENT,
          "null out_json");
    CHECK(walletd_wallet_show(w, "nope", &out) == WALLETD_ERR_NOT_FOUND, "show unknown id");

    struct app app = {0};
    WalletdCallbacks cb = {.user_data = &app, .progress = on_progress, .tx_code = on_tx_code};

    /* A signer that lists the wallet's key but refuses to sign: a signer error, and the engine was told. */
    CHECK(walletd_wallet_list(w, &out) == WALLETD_OK, "list keys");
    app.keys_json = keys_array(out);
    walletd_string_free(out);
    CHECK(app.keys_json != NULL, "keys array");
    WalletdSigner refusing = {.user_data = &app, .keys = refusing_keys, .sign = refusing_sign, .release = on_release};
    WalletdSigner incomplete = {.user_data = &app};
    CHECK(walletd_wallet_set_signer(w, &incomplete) == WALLETD_ERR_INVALID_ARGUMENT, "a signer without sign");
    CHECK(walletd_wallet_set_signer(w, &refusing) == WALLETD_OK, "set the refusing signer");
    app.tx_code = argv[6];
    CHECK(walletd_wallet_accept_offer(w, argv[3], NULL, &cb, &out) == WALLETD_ERR_SIGNER && out == NULL,
          "refused signature is a signer error");
    CHECK(last_error_has("biometric prompt") && last_error_has("\"engine_code\":\"SIGN_ERROR\""),
          "the engine got the refusal");
    CHECK(app.sign_asked == 1 && app.tx_code_asked == 1, "sign and tx_code callbacks were called");
    CHECK(walletd_wallet_set_signer(w, NULL) == WALLETD_OK && app.released == 1, "back to the store's keys");

    /* The issuance: the transaction code from the callback, proofs from the store's key. */
    app.tx_code = argv[7];
    CHECK(walletd_wallet_accept_offer(w, argv[4], NULL, &cb, &out) == WALLETD_OK && out != NULL, "accept offer");
    CHECK(strstr(out, "\"credentials\":[{") != NULL, "the result lists the credential");
    printf("accepted %s\n", out);
    walletd_string_free(out);
    CHECK(app.tx_code_asked == 2 && app.progress_steps > 0, "progress and tx_code callbacks");

    /* Another issuance with the app's own key (OpenSSL here, a Secure Enclave in an iOS app). */
    struct keychain kc = {0};
    CHECK(keychain_init(&kc), "the app's key");
    WalletdSigner app_signer = {.user_data = &kc, .keys = keychain_keys, .sign = keychain_sign,
                                .release = keychain_release};
    CHECK(walletd_wallet_set_signer(w, &app_signer) == WALLETD_OK, "set the app signer");
    app.tx_code = argv[8];
    CHECK(walletd_wallet_accept_offer(w, argv[5], NULL, &cb, &out) == WALLETD_OK && out != NULL,
          "accept offer with the app's key");
    CHECK(strstr(out, "\"key_id\":\"c-key\"") != NULL && kc.signed_count == 1, "bound to the app's key");
    walletd_string_free(out);

    CHECK(walletd_wallet_list(w, &out) == WALLETD_OK, "list");
    printf("list %s\n", out);
    walletd_string_free(out);
    CHECK(walletd_wallet_close(w) == WALLETD_OK && kc.released == 1, "close again releases the app signer");
    EVP_PKEY_free(kc.key);
    free(app.keys_json);
    free(config);
    printf("%d checks passed\n", checks);
    return 0;
}
