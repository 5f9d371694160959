# The oligomet vantage6 algorithm image (oligomet.federated.algorithm: `partial` at the sites, `central`).
# Building needs only PyPI (the package and its dependencies); the running container needs no network
# besides what the vantage6 node gives it (the node proxies the central function's calls to the server).
FROM python:3.13-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-cache-dir ".[federated]"
# vantage6's algorithm wrapper reads the module to load from PKG_NAME
ENV PKG_NAME=oligomet.federated.algorithm
# Each node mounts its own configuration (its registry, minimum cell count, time grid, allowed analyses)
# and names it with OLIGOMET_NODE_CONFIG in the node's algorithm environment (see docs/federated.md).
CMD ["python", "-c", "from vantage6.algorithm.tools.wrap import wrap_algorithm; wrap_algorithm()"]
