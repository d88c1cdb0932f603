# One image for every Audora process; the command picks the role.
FROM debian:bookworm-slim AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config libzmq3-dev libhiredis-dev libpq-dev \
      libmsgpack-dev libcurl4-openssl-dev libcriterion-dev libjansson-dev \
      libmicrohttpd-dev libsodium-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY common common
COPY proto proto
COPY workers workers
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DAU_WERROR=OFF \
    && cmake --build /build -j"$(nproc)" \
    && cmake --install /build --prefix /opt/audora

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libzmq5 libhiredis0.14 libpq5 libmsgpackc2 libcurl4 libjansson4 \
      libmicrohttpd12 libsodium23 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/audora/bin/ /usr/local/bin/
# The cluster's CURVE keys live in a volume mounted here; a new named
# volume takes this folder's owner and mode.
RUN mkdir -m 0700 /keys && chown nobody:nogroup /keys
USER nobody
ENTRYPOINT []
