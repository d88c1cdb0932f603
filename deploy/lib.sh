# Shell helpers shared by the deploy and bench scripts (sourced).

# A free TCP port on loopback, chosen by the kernel.
free_port() {
    /usr/bin/python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Private relay endpoints, so two clusters on one machine do not collide.
export_relay_ports() {
    export AUDORA_ZMQ__ENRICH_IN=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ENRICH_OUT=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ANALYTICS_IN=tcp://127.0.0.1:$(free_port)
    export AUDORA_ZMQ__ANALYTICS_OUT=tcp://127.0.0.1:$(free_port)
}
