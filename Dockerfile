# The waypoint image, from the fat jar. Build the jar first, then the image (nothing is pushed):
#   mvn -B -pl waypoint-server -am package -DskipTests
#   docker build -t waypoint:0.1.0 .
# The build context is only the jar (.dockerignore). Runs as 1337:1337 (Istio's proxy user) and
# works with a read-only root filesystem as long as /tmp is writable (netty-tcnative unpacks
# BoringSSL there): the Helm chart mounts an emptyDir at /tmp.
ARG BASE_IMAGE=eclipse-temurin:17-jre-noble
FROM ${BASE_IMAGE}

RUN groupadd --system --gid 1337 waypoint \
 && useradd --system --uid 1337 --gid 1337 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin waypoint

COPY --chown=root:root --chmod=0444 waypoint-server/target/waypoint.jar /opt/waypoint/waypoint.jar

USER 1337:1337
# 15008 HBONE, 15020 metrics (/stats/prometheus), 15021 readiness (/healthz/ready)
EXPOSE 15008 15020 15021
# The chart passes its own JVM flags (command: java ...); these are for docker run.
ENTRYPOINT ["java", "-XX:+UseSerialGC", "-XX:MaxRAMPercentage=40", "-XX:+ExitOnOutOfMemoryError", \
            "-Djava.io.tmpdir=/tmp", "-jar", "/opt/waypoint/waypoint.jar"]
CMD ["--help"]
