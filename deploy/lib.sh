# Shell helpers shared by the deploy and bench scripts (sourced).

# A free TCP port on loopback, chosen by the kernel.
# A port nothing listens on, below the kernel's ephemeral range: a port
# the kernel picked would be free now but may be given to an outgoing
# connection before the process that is to listen on it starts.
free_port() {
    /usr/bin/python3 -c 'import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(10000, max(lo, 10001))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# Private relay endpoints, so two clusters on one machine do not collide.
export_relay_ports() {
    export AUDORA_ZMQ__ENRICH_IN=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ENRICH_OUT=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ANALYTICS_IN=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ANALYTICS_OUT=tcp://127.0.0.1:$(free_port)
}
