/* Who may talk to a relay: the CURVE options of au_zmq_socket, the ZAP
 * handler that admits only the configured worker keys, plain-loopback's
 * endpoint rule, the key forms (@FILE, '@' inside a key) and the files of
 * `audora keys generate`. Real libzmq sockets on loopback tcp: inproc
 * skips the security handshake altogether. */
#include "au_curve.h"
#include "au_test.h"
#include "au_zmq.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static char dir[256];

static void setup(void)
{
    const char *base = getenv("AUDORA_TEST_TMP");
    snprintf(dir, sizeof(dir), "%s/au-curve-XXXXXX",
             base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(curve, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    char spub[41], ssec[41], cpub[41], csec[41];
} keyset_t;

static void keyset(keyset_t *k)
{
    cr_assert_eq(zmq_curve_keypair(k->spub, k->ssec), 0,
                 "libzmq without CURVE");
    cr_assert_eq(zmq_curve_keypair(k->cpub, k->csec), 0);
}

static void set(au_config_t *c, const char *key, const char *value)
{
    au_error_t err = {0};
    cr_assert_eq(au_config_set(c, key, value, "test", &err), 0, "%s: %s", key,
                 err.msg);
}

/* A configuration with the relays' pair, the workers' pair, and the
 * workers' key admitted. */
static void curve_config(au_config_t *c, const keyset_t *k)
{
    au_config_defaults(c);
    set(c, "zmq.server_public_key", k->spub);
    set(c, "zmq.server_secret_key", k->ssec);
    set(c, "zmq.client_public_key", k->cpub);
    set(c, "zmq.client_secret_key", k->csec);
    set(c, "zmq.linger_ms", "0");
}

/* The endpoint a socket bound on tcp://127.0.0.1:* got. */
static void endpoint_of(void *s, char *ep, size_t cap)
{
    cr_assert_eq(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &cap), 0);
}

/* 1 when `client` (already connected) gets a message through to pull
 * within a second. Workers' sockets send only over connections whose
 * handshake completed (ZMQ_IMMEDIATE): a refused key never gets that far,
 * so its send never becomes possible. */
static int delivered(void *client, void *pull)
{
    zmq_pollitem_t out = {client, 0, ZMQ_POLLOUT, 0};
    if (zmq_poll(&out, 1, 1000) <= 0)
        return 0;
    cr_assert_eq(zmq_send(client, "hello", 5, ZMQ_DONTWAIT), 5);
    zmq_pollitem_t it = {pull, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 1000) <= 0)
        return 0;
    char buf[8];
    return zmq_recv(pull, buf, sizeof(buf), 0) == 5;
}

Test(curve, only_the_authorized_worker_key_gets_through)
{
    keyset_t k, stranger;
    keyset(&k);
    keyset(&stranger);
    au_config_t c;
    curve_config(&c, &k);
    au_error_t err = {0};
    void *z = zmq_ctx_new();
    au_zap_t *zap = au_zap_start(z, &c, &err);
    cr_assert_not_null(zap, "%s", err.msg);
    void *pull = au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &c, &err);
    cr_assert_not_null(pull, "%s", err.msg);
    char ep[128];
    endpoint_of(pull, ep, sizeof(ep));

    /* A worker with a key of its own: refused by the handler. */
    au_config_t other = c;
    set(&other, "zmq.client_public_key", stranger.cpub);
    set(&other, "zmq.client_secret_key", stranger.csec);
    void *bad = au_zmq_socket(z, ZMQ_PUSH, ep, 0, &other, &err);
    cr_assert_not_null(bad, "%s", err.msg);
    cr_assert_not(delivered(bad, pull), "a stranger's message arrived");
    cr_assert_geq(au_zap_refused(zap), 1);

    /* A plain peer: the handshake itself fails, nothing arrives. */
    void *plain = zmq_socket(z, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(plain, ZMQ_LINGER, &linger, sizeof(linger));
    cr_assert_eq(zmq_connect(plain, ep), 0);
    cr_assert_not(delivered(plain, pull), "a plain message arrived");

    /* The worker: through, encrypted. */
    void *good = au_zmq_socket(z, ZMQ_PUSH, ep, 0, &c, &err);
    cr_assert_not_null(good, "%s", err.msg);
    cr_assert(delivered(good, pull), "the worker's message did not arrive");

    zmq_close(bad);
    zmq_close(plain);
    zmq_close(good);
    zmq_close(pull);
    au_zap_stop(&zap);
    cr_assert_null(zap);
    zmq_ctx_term(z);
}

Test(curve, authorized_clients_lists_several_keys_and_replaces_the_one)
{
    keyset_t k, second;
    keyset(&k);
    keyset(&second);
    au_config_t c;
    curve_config(&c, &k);
    char list[100];
    snprintf(list, sizeof(list), "%s, %s", second.cpub, k.cpub);
    set(&c, "zmq.authorized_clients", list);
    au_error_t err = {0};
    void *z = zmq_ctx_new();
    au_zap_t *zap = au_zap_start(z, &c, &err);
    cr_assert_not_null(zap, "%s", err.msg);
    void *pull = au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &c, &err);
    char ep[128];
    endpoint_of(pull, ep, sizeof(ep));
    au_config_t w2 = c;
    set(&w2, "zmq.client_public_key", second.cpub);
    set(&w2, "zmq.client_secret_key", second.csec);
    void *a = au_zmq_socket(z, ZMQ_PUSH, ep, 0, &c, &err);
    void *b = au_zmq_socket(z, ZMQ_PUSH, ep, 0, &w2, &err);
    cr_assert(delivered(a, pull));
    cr_assert(delivered(b, pull));
    cr_assert_eq(au_zap_refused(zap), 0);
    zmq_close(a);
    zmq_close(b);
    zmq_close(pull);
    au_zap_stop(&zap);
    zmq_ctx_term(z);

    /* A list with something that is not a key is a configuration error
     * naming it, before any socket exists. */
    set(&c, "zmq.authorized_clients", "not-a-key");
    z = zmq_ctx_new();
    cr_assert_null(au_zap_start(z, &c, &err));
    cr_assert_eq(err.code, AU_ECONFIG);
    cr_assert_str_eq(err.msg, "zmq.authorized_clients: not a 40-character "
                              "Z85 key");
    zmq_ctx_term(z);
}

Test(curve, a_missing_key_is_named_and_no_socket_is_made)
{
    au_config_t c;
    au_config_defaults(&c);
    au_error_t err = {0};
    void *z = zmq_ctx_new();
    cr_assert_null(
        au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &c, &err));
    cr_assert_eq(err.code, AU_ECONFIG);
    cr_assert_str_eq(err.msg, "zmq.server_secret_key is not set "
                              "(zmq.security=curve needs it; `audora keys "
                              "generate` makes a set)");
    cr_assert_null(
        au_zmq_socket(z, ZMQ_PUSH, "tcp://127.0.0.1:1", 0, &c, &err));
    cr_assert_eq(err.code, AU_ECONFIG);
    cr_assert_not_null(strstr(err.msg, "zmq.server_public_key is not set"));
    zmq_ctx_term(z);
}

Test(curve, keys_come_from_files_and_an_at_sign_key_is_a_key)
{
    keyset_t k;
    /* Z85 has '@': draw pairs until a secret key starts with it, and
     * check it is taken as the key, not as a file name. */
    do
        keyset(&k);
    while (k.csec[0] != '@');
    au_config_t c;
    curve_config(&c, &k);
    char path[300], ref[310];
    snprintf(path, sizeof(path), "%s/server.key", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", k.ssec);
    fclose(f);
    snprintf(ref, sizeof(ref), "@%s", path);
    set(&c, "zmq.server_secret_key", ref);
    au_error_t err = {0};
    void *z = zmq_ctx_new();
    au_zap_t *zap = au_zap_start(z, &c, &err);
    void *pull = au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &c, &err);
    cr_assert_not_null(pull, "%s", err.msg);
    char ep[128];
    endpoint_of(pull, ep, sizeof(ep));
    void *push = au_zmq_socket(z, ZMQ_PUSH, ep, 0, &c, &err);
    cr_assert_not_null(push, "%s", err.msg);
    cr_assert(delivered(push, pull));
    zmq_close(push);
    zmq_close(pull);

    /* A file that does not hold a key, and one that is not there. */
    f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    cr_assert_null(
        au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &c, &err));
    cr_assert_str_eq(err.msg, "zmq.server_secret_key: not a 40-character Z85 "
                              "key in the file");
    snprintf(ref, sizeof(ref), "@%s/nope", dir);
    set(&c, "zmq.server_secret_key", ref);
    cr_assert_null(
        au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &c, &err));
    cr_assert_not_null(strstr(err.msg, "/nope: No such file or directory"),
                       "%s", err.msg);
    au_zap_stop(&zap);
    zmq_ctx_term(z);
}

Test(curve, plain_loopback_refuses_any_endpoint_beyond_the_machine)
{
    au_config_t c;
    au_config_defaults(&c);
    set(&c, "zmq.security", "plain-loopback");
    set(&c, "zmq.linger_ms", "0");
    au_error_t err = {0};
    void *z = zmq_ctx_new();
    void *s = au_zmq_socket(
        z, ZMQ_PUSH, "tcp://127.0.0.1:1, tcp://localhost:2, ipc:///nonexistent",
        0, &c, &err);
    cr_assert_not_null(s, "%s", err.msg);
    zmq_close(s);
    const char *far[] = {"tcp://10.1.2.3:5551", "tcp://relay-enrich:5551",
                         "tcp://*:5551", "tcp://127.0.0.1:1,tcp://[::]:5"};
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
        cr_assert_null(au_zmq_socket(z, ZMQ_PULL, far[i], 1, &c, &err), "%s",
                       far[i]);
        cr_assert_eq(err.code, AU_ECONFIG);
        cr_assert_not_null(strstr(err.msg, "plain tcp beyond loopback is "
                                           "refused"),
                           "%s", err.msg);
    }
    zmq_ctx_term(z);
}

Test(curve, generated_files_are_private_env_files_that_work_together)
{
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/keys", dir);
    au_error_t err = {0};
    cr_assert_eq(au_curve_generate(sub, &err), 0, "%s", err.msg);
    struct stat st;
    cr_assert_eq(stat(sub, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    const char *files[] = {"relay.env", "worker.env", "cluster.env"};
    for (int i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof(p), "%s/%s", sub, files[i]);
        cr_assert_eq(stat(p, &st), 0, "%s", p);
        cr_assert_eq(st.st_mode & 0777, 0600, "%s", p);
    }
    /* A relay loaded from relay.env and a worker from worker.env talk;
     * neither file holds the other side's secret. */
    char rp[400], wp[400];
    snprintf(rp, sizeof(rp), "%s/relay.env", sub);
    snprintf(wp, sizeof(wp), "%s/worker.env", sub);
    au_config_t relay, worker;
    cr_assert_eq(au_config_load(&relay, NULL, NULL, rp, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(au_config_load(&worker, NULL, NULL, wp, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(relay.zmq.client_secret_key, "");
    cr_assert_str_eq(worker.zmq.server_secret_key, "");
    set(&relay, "zmq.linger_ms", "0");
    set(&worker, "zmq.linger_ms", "0");
    void *z = zmq_ctx_new();
    au_zap_t *zap = au_zap_start(z, &relay, &err);
    cr_assert_not_null(zap, "%s", err.msg);
    void *pull =
        au_zmq_socket(z, ZMQ_PULL, "tcp://127.0.0.1:*", 1, &relay, &err);
    cr_assert_not_null(pull, "%s", err.msg);
    char ep[128];
    endpoint_of(pull, ep, sizeof(ep));
    void *push = au_zmq_socket(z, ZMQ_PUSH, ep, 0, &worker, &err);
    cr_assert_not_null(push, "%s", err.msg);
    cr_assert(delivered(push, pull));
    zmq_close(push);
    zmq_close(pull);
    au_zap_stop(&zap);
    zmq_ctx_term(z);
}
