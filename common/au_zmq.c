#include "au_zmq.h"

#include "au_curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t au_stop_requested;

static long long drain_budget_ms = 10000;
static long long drain_deadline; /* monotonic ms; 0 until the stop is seen */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int au_sleep_ms(long long ms)
{
    long long end = mono_ms() + ms;
    for (long long left = ms; left > 0; left = end - mono_ms()) {
        if (au_stop_requested)
            return AU_EINTR;
        long long step = left < 100 ? left : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
    }
    return au_stop_requested ? AU_EINTR : 0;
}

static void on_stop(int sig)
{
    (void)sig;
    au_stop_requested = 1;
}

volatile sig_atomic_t au_reload_requested;

static void on_hup(int sig)
{
    (void)sig;
    au_reload_requested = 1;
}

void au_drain_set_budget(int seconds)
{
    drain_budget_ms = (long long)seconds * 1000;
}

int au_drain_expired(void)
{
    if (!au_stop_requested)
        return 0;
    /* The deadline starts when a loop first sees the stop, at most one
     * short poll after the signal; the handler itself only sets a flag. */
    long long now = mono_ms();
    if (drain_deadline == 0)
        drain_deadline = now + drain_budget_ms;
    return now >= drain_deadline;
}

void au_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* SIGHUP, which kills by default, is what operators send to have logs
     * reopened and configuration read again: never a stop. */
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void *au_zmq_socket(void *zctx, int type, const char *endpoints, int bind,
                    const au_config_t *cfg, au_error_t *err)
{
    void *s = zmq_socket(zctx, type);
    if (!s) {
        au_error_set(err, AU_EZMQ, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int hwm = cfg->zmq.hwm, linger = cfg->zmq.linger_ms;
    int64_t maxmsg = cfg->zmq.max_msg_bytes;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    /* An oversized message is dropped by libzmq (and the peer
     * disconnected) before it is ever buffered whole. */
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    /* A worker connected to several relays of a boundary sends only over
     * connections that are up (a dead relay's pipe would otherwise hold
     * every other batch until it came back), and a peer that stops
     * answering (a host cut off, no RST ever coming) is dropped after
     * three seconds of missed heartbeats. */
    int immediate = 1, hb_ivl = 1000, hb_timeout = 3000;
    if (!bind)
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof(hb_ivl));
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
    /* Security first: libzmq takes the mechanism when it binds or
     * connects, not later. */
    if (au_curve_socket(s, bind, endpoints, cfg, err) < 0) {
        zmq_close(s);
        return NULL;
    }
    char list[AU_CFG_STR];
    snprintf(list, sizeof(list), "%s", endpoints);
    char *p = list;
    while (p && *p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*p == ' ')
            p++;
        int rc = bind ? zmq_bind(s, p) : zmq_connect(s, p);
        if (rc != 0) {
            au_error_set(err, AU_EZMQ, "%s %s: %s", bind ? "bind" : "connect",
                         p, zmq_strerror(errno));
            zmq_close(s);
            return NULL;
        }
        p = comma ? comma + 1 : NULL;
    }
    return s;
}

int au_zmq_send(void *sock, const void *buf, size_t len, int timeout_ms)
{
    int waited = 0;
    for (;;) {
        if (au_drain_expired())
            return AU_EINTR;
        if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) >= 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return AU_EZMQ;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return AU_ETIMEOUT;
        /* Short polls keep the stop flag responsive while blocked. */
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLOUT, 0};
        zmq_poll(&it, 1, 100);
        waited += 100;
    }
}

int au_zmq_recv(void *sock, zmq_msg_t *msg, int timeout_ms)
{
    if (au_drain_expired())
        return AU_EINTR;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : AU_EZMQ;
    if (rc == 0)
        return 0;
    if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? 0 : AU_EZMQ;
    return 1;
}
