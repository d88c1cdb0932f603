#include "au_curve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "au_log.h"

/* ---- keys --------------------------------------------------------------- */

static int z85_ok(const char *s)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()"
                                   "[]{}@%$#";
    if (strlen(s) != AU_CURVE_KEY_LEN)
        return 0;
    for (; *s; s++)
        if (!strchr(alphabet, *s))
            return 0;
    return 1;
}

/* The key of a configuration value: its text, or the text of @FILE
 * (a value that is not itself a key). */
static int key_of(const char *name, const char *value,
                  char out[AU_CURVE_KEY_LEN + 1], au_error_t *err)
{
    if (!value[0])
        return au_error_set(err, AU_ECONFIG,
                            "zmq.%s is not set (zmq.security=curve needs it; "
                            "`audora keys generate` makes a set)",
                            name);
    char buf[128];
    const char *text = value;
    /* '@' is a Z85 character: a value that is a key already is one. */
    int from_file = value[0] == '@' && !z85_ok(value);
    if (from_file) {
        FILE *f = fopen(value + 1, "r");
        if (!f)
            return au_error_set(err, AU_ECONFIG, "zmq.%s: %s: %s", name,
                                value + 1, strerror(errno));
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, " \t\r\n")] = '\0';
        text = buf;
    }
    if (!z85_ok(text))
        return au_error_set(err, AU_ECONFIG,
                            "zmq.%s: not a %d-character Z85 key%s", name,
                            AU_CURVE_KEY_LEN, from_file ? " in the file" : "");
    memcpy(out, text, AU_CURVE_KEY_LEN + 1);
    return 0;
}

/* ---- sockets --------------------------------------------------------------
 */

/* 1 for an endpoint whose traffic never leaves the machine. */
static int local_endpoint(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return 1;
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *host = ep + 6;
    return strncmp(host, "127.", 4) == 0 ||
           strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

static int plain_check(const char *endpoints, au_error_t *err)
{
    char list[AU_CFG_STR];
    snprintf(list, sizeof(list), "%s", endpoints);
    for (char *p = list, *end; p && *p; p = end ? end + 1 : NULL) {
        end = strchr(p, ',');
        if (end)
            *end = '\0';
        while (*p == ' ')
            p++;
        if (!local_endpoint(p))
            return au_error_set(err, AU_ECONFIG,
                                "%s: plain tcp beyond loopback is refused; "
                                "set zmq.security=curve with the keys of "
                                "`audora keys generate`",
                                p);
    }
    return 0;
}

int au_curve_socket(void *sock, int server, const char *endpoints,
                    const au_config_t *cfg, au_error_t *err)
{
    if (strcmp(cfg->zmq.security, "curve") != 0)
        return plain_check(endpoints, err);
    char pub[AU_CURVE_KEY_LEN + 1], sec[AU_CURVE_KEY_LEN + 1];
    int rc;
    if (server) {
        int on = 1;
        rc = key_of("server_secret_key", cfg->zmq.server_secret_key, sec, err);
        if (rc < 0)
            return rc;
        zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof(on));
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, AU_CURVE_KEY_LEN);
        /* A domain makes libzmq ask the ZAP handler about every peer. */
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "audora", 6);
        return 0;
    }
    char srv[AU_CURVE_KEY_LEN + 1];
    rc = key_of("server_public_key", cfg->zmq.server_public_key, srv, err);
    if (rc == 0)
        rc = key_of("client_public_key", cfg->zmq.client_public_key, pub, err);
    if (rc == 0)
        rc = key_of("client_secret_key", cfg->zmq.client_secret_key, sec, err);
    if (rc < 0)
        return rc;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, srv, AU_CURVE_KEY_LEN);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, AU_CURVE_KEY_LEN);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, AU_CURVE_KEY_LEN);
    return 0;
}

/* ---- the ZAP handler (RFC 27) -----------------------------------------------
 */

#define ZAP_MAX_KEYS 64

struct au_zap_t {
    pthread_t thread;
    void *sock;
    atomic_int stop;
    atomic_ulong refused;
    size_t nkeys;
    unsigned char keys[ZAP_MAX_KEYS][32];
};

static int admitted(const au_zap_t *z, zmq_msg_t *cred)
{
    if (zmq_msg_size(cred) != 32)
        return 0;
    for (size_t i = 0; i < z->nkeys; i++)
        if (memcmp(zmq_msg_data(cred), z->keys[i], 32) == 0)
            return 1;
    return 0;
}

static void send_str(void *s, const char *text, int more)
{
    zmq_send(s, text, strlen(text), more ? ZMQ_SNDMORE : 0);
}

/* One request: version, request id, domain, address, identity,
 * mechanism, credentials; one reply: version, request id, status,
 * status text, user id, metadata. */
static void serve_one(au_zap_t *z)
{
    zmq_msg_t part[7];
    int n = 0, more = 1;
    while (more && n < 7) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], z->sock, 0) < 0) {
            zmq_msg_close(&part[n]);
            break;
        }
        more = zmq_msg_more(&part[n++]);
    }
    while (more) { /* a malformed request: drain what is left */
        zmq_msg_t x;
        zmq_msg_init(&x);
        more = zmq_msg_recv(&x, z->sock, 0) >= 0 && zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    int ok = n == 7 && zmq_msg_size(&part[5]) == 5 &&
             memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
             admitted(z, &part[6]);
    if (n >= 2) {
        send_str(z->sock, "1.0", 1);
        zmq_send(z->sock, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]),
                 ZMQ_SNDMORE);
        send_str(z->sock, ok ? "200" : "400", 1);
        send_str(z->sock, ok ? "OK" : "key not authorized", 1);
        send_str(z->sock, "", 1);
        send_str(z->sock, "", 0);
    }
    if (!ok) {
        atomic_fetch_add(&z->refused, 1);
        au_warn("relay: refused a peer without an authorized key");
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

static void *zap_main(void *arg)
{
    au_zap_t *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t it = {z->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 200) > 0)
            serve_one(z);
    }
    return NULL;
}

static int add_key(au_zap_t *z, const char *name, const char *value,
                   au_error_t *err)
{
    char text[AU_CURVE_KEY_LEN + 1];
    int rc = key_of(name, value, text, err);
    if (rc < 0)
        return rc;
    if (z->nkeys == ZAP_MAX_KEYS)
        return au_error_set(err, AU_ECONFIG, "zmq.%s: more than %d keys", name,
                            ZAP_MAX_KEYS);
    zmq_z85_decode(z->keys[z->nkeys++], text);
    return 0;
}

static int load_keys(au_zap_t *z, const au_config_t *cfg, au_error_t *err)
{
    if (!cfg->zmq.authorized_clients[0])
        return add_key(z, "client_public_key", cfg->zmq.client_public_key, err);
    char list[AU_CFG_STR];
    snprintf(list, sizeof(list), "%s", cfg->zmq.authorized_clients);
    for (char *p = list, *end; p && *p; p = end ? end + 1 : NULL) {
        end = strchr(p, ',');
        if (end)
            *end = '\0';
        while (*p == ' ')
            p++;
        int rc = add_key(z, "authorized_clients", p, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

au_zap_t *au_zap_start(void *zctx, const au_config_t *cfg, au_error_t *err)
{
    au_zap_t *z = calloc(1, sizeof(*z));
    if (!z) {
        au_error_set(err, AU_ENOMEM, "zap: out of memory");
        return NULL;
    }
    if (load_keys(z, cfg, err) < 0) {
        free(z);
        return NULL;
    }
    z->sock = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (z->sock)
        zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (!z->sock || zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0 ||
        pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        au_error_set(err, AU_EZMQ, "zap: %s", zmq_strerror(errno));
        if (z->sock)
            zmq_close(z->sock);
        free(z);
        return NULL;
    }
    return z;
}

void au_zap_stop(au_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    au_zap_t *z = *self_p;
    atomic_store(&z->stop, 1);
    pthread_join(z->thread, NULL);
    zmq_close(z->sock);
    free(z);
    *self_p = NULL;
}

unsigned long au_zap_refused(const au_zap_t *zap)
{
    return zap ? atomic_load(&((au_zap_t *)zap)->refused) : 0;
}

/* ---- key generation -------------------------------------------------------
 */

static int write_env(const char *dir, const char *name, const char *text,
                     au_error_t *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return au_error_set(err, AU_EIO, "%s: %s", path, strerror(errno));
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    return ok ? 0 : au_error_set(err, AU_EIO, "%s: write failed", path);
}

int au_curve_generate(const char *dir, au_error_t *err)
{
    char spub[41], ssec[41], cpub[41], csec[41];
    if (zmq_curve_keypair(spub, ssec) != 0 ||
        zmq_curve_keypair(cpub, csec) != 0)
        return au_error_set(err, AU_EZMQ,
                            "this libzmq has no CURVE (built without "
                            "libsodium?)");
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return au_error_set(err, AU_EIO, "%s: %s", dir, strerror(errno));
    char relay[512], worker[512], both[1024];
    snprintf(relay, sizeof(relay),
             "AUDORA_ZMQ__SECURITY=curve\n"
             "AUDORA_ZMQ__SERVER_SECRET_KEY='%s'\n"
             "AUDORA_ZMQ__AUTHORIZED_CLIENTS='%s'\n",
             ssec, cpub);
    snprintf(worker, sizeof(worker),
             "AUDORA_ZMQ__SECURITY=curve\n"
             "AUDORA_ZMQ__SERVER_PUBLIC_KEY='%s'\n"
             "AUDORA_ZMQ__CLIENT_PUBLIC_KEY='%s'\n"
             "AUDORA_ZMQ__CLIENT_SECRET_KEY='%s'\n",
             spub, cpub, csec);
    snprintf(both, sizeof(both), "%s%s", relay,
             worker + strlen("AUDORA_ZMQ__SECURITY=curve\n"));
    int rc = write_env(dir, "relay.env", relay, err);
    if (rc == 0)
        rc = write_env(dir, "worker.env", worker, err);
    if (rc == 0)
        rc = write_env(dir, "cluster.env", both, err);
    return rc;
}
