# One image for every newsingest service (migrate, scheduler, fetch and extract workers).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY schemas ./schemas
COPY ingest ./ingest
COPY workers ./workers
COPY newsingest ./newsingest
RUN python -m pip install --upgrade pip \
 && python -m pip install -c constraints.txt . \
 && useradd --system --home /app newsingest
USER newsingest
ENTRYPOINT ["newsingest"]
CMD ["--help"]
