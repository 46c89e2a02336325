"""PostgreSQL search: a weighted tsvector of every paper (GIN) and a table of dense vectors (pgvector).

On SQLite this revision does nothing: the embedded store searches with tantivy and vector files.

- ``papers.search_tsv``: generated column, ``english`` configuration, title weight A, abstract B, author
  names C, so PostgreSQL keeps it in step with every write and ``@@`` queries use the GIN index.
- ``title_terms``/``abstract_terms``: generated field lengths for BM25 (with finer column statistics, whose
  most common lexemes give BM25 its document frequencies);
- ``paper_vectors``: one vector per paper for the current model (``fingerprint``), with the sha1 of the
  embedded text so unchanged papers are not embedded again. The column has no fixed dimension; the HNSW
  index (cosine) is created for the model's dimension when the first vectors arrive
  (``paperfeed.search.pg_backend``).
"""

from alembic import op

from paperfeed.store.migrations.steps import postgresql_only

revision = "0005"
down_revision = "0004"

GENERATED_COLUMNS = ("search_tsv", "title_terms", "abstract_terms")
TSV = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(authors_text, '')), 'C')"
)


@postgresql_only
def upgrade() -> None:
    op.execute(f"ALTER TABLE papers ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ({TSV}) STORED")
    op.execute("CREATE INDEX ix_papers_search_tsv ON papers USING gin (search_tsv)")
    # Field lengths (distinct terms) for BM25's length normalisation, and finer lexeme statistics
    # (pg_stats.most_common_elems: document frequencies of the 10,000 most common terms) for its idf.
    for name, column in (("title_terms", "title"), ("abstract_terms", "abstract")):
        op.execute(
            f"ALTER TABLE papers ADD COLUMN {name} integer GENERATED ALWAYS AS "
            f"(length(to_tsvector('english'::regconfig, coalesce({column}, '')))) STORED"
        )
    for name in GENERATED_COLUMNS:
        op.execute(f"ALTER TABLE papers ALTER COLUMN {name} SET STATISTICS 1000")
    op.execute(
        "CREATE TABLE paper_vectors ("
        " paper_id varchar(64) PRIMARY KEY REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE,"
        " fingerprint varchar(128) NOT NULL,"
        " text_hash varchar(40) NOT NULL,"
        " embedding vector NOT NULL)"
    )


@postgresql_only
def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS paper_vectors")
    op.execute("DROP INDEX IF EXISTS ix_papers_search_tsv")
    for name in GENERATED_COLUMNS:
        op.execute(f"ALTER TABLE papers DROP COLUMN IF EXISTS {name}")
