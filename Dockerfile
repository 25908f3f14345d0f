# Airflow image for the aws environment (Astro project). Astro Runtime 3.3-N ships Airflow 3.3 itself
# (requirements.txt leaves Airflow core to the image and pins everything else from uv.lock);
# the -python-3.12 distribution matches the Pythons uv.lock is resolved for (the default tag runs a newer one).
FROM astrocrpublic.azurecr.io/runtime:3.3-8-python-3.12

# The Runtime's ONBUILD triggers run here, right after FROM: apt-get install packages.txt (Java for Spark),
# pip install requirements.txt (exported from uv.lock by `make requirements`), then copy the project in.

# Debian names the JDK directory after the CPU architecture; one fixed path serves amd64 and arm64 builds,
# and the build fails here if packages.txt stopped providing java.
USER root
RUN java_bin="$(readlink -f "$(command -v java)")" \
    && test -x "$java_bin" \
    && ln -sfn "${java_bin%/bin/java}" /usr/lib/jvm/platform-java
USER astro

ENV JAVA_HOME=/usr/lib/jvm/platform-java \
    PYTHONPATH=/usr/local/airflow/include \
    PLATFORM_ENV=aws \
    PLATFORM_PROJECT_ROOT=/usr/local/airflow
