# Airflow image for the aws environment (Astro project). Astro Runtime 3.3-N ships Airflow 3.3 itself
# (requirements.txt leaves Airflow core to the image and pins everything else from uv.lock);
# the -python-3.12 distribution matches the Pythons uv.lock is resolved for (the default tag runs a newer one).
FROM astrocrpublic.azurecr.io/runtime:3.3-8-python-3.12

# The Runtime's ONBUILD triggers run here, right after FROM: apt-get install packages.txt (empty: Spark
# runs on Databricks or Glue, so the image needs no Java), pip install requirements.txt (the production
# dependencies exported from uv.lock by `make requirements`: no pyspark, delta-spark or moto), then copy
# the project in (.dockerignore keeps the local stand-ins, tools and infra out).

ENV PYTHONPATH=/usr/local/airflow/include \
    PLATFORM_ENV=aws \
    PLATFORM_PROJECT_ROOT=/usr/local/airflow
