"""Ingesting arXiv listing feeds (rss.arxiv.org/rss/<cat> and /atom/<cat>) with announce types."""
# ruff: noqa: E501, W291 - feeds are kept exactly as arXiv publishes them (long lines, trailing spaces)

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.run import ingest_paths
from paperfeed.store.papers import get_paper, upsert_papers
from tests.factories import make_paper, write_file
from tests.ingesting import ingest_detected, stored

RSS = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
  <channel>
    <title>cs.CL updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.CL</link>
    <description>cs.CL updates on the arXiv.org e-print archive.</description>
    <atom:link href="http://rss.arxiv.org/rss/cs.CL" rel="self" type="application/rss+xml"/>
    <docs>http://www.rssboard.org/rss-specification</docs>
    <language>en-us</language>
    <lastBuildDate>Mon, 05 Feb 2024 00:00:00 -0500</lastBuildDate>
    <managingEditor>rss-help@arxiv.org</managingEditor>
    <pubDate>Mon, 05 Feb 2024 00:00:00 -0500</pubDate>
    <skipDays>
      <day>Saturday</day>
      <day>Sunday</day>
    </skipDays>
    <item>
      <title>Tokenizer-Free Language Models at Scale</title>
      <link>https://arxiv.org/abs/2402.01111</link>
      <description>arXiv:2402.01111v1 Announce Type: new 
Abstract: We train byte-level language models without a tokenizer and match subword models.</description>
      <guid isPermaLink="false">oai:arXiv.org:2402.01111v1</guid>
      <category>cs.CL</category>
      <category>cs.LG</category>
      <pubDate>Mon, 05 Feb 2024 00:00:00 -0500</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>Ada Lovelace, Bal\\'azs Csan\\'ad, Alan Turing</dc:creator>
    </item>
    <item>
      <title>Graph Neural Networks for Parsing</title>
      <link>https://arxiv.org/abs/2402.02222</link>
      <description>arXiv:2402.02222v1 Announce Type: cross 
Abstract: A cross-listed paper from cs.LG about parsing with graph networks.</description>
      <guid isPermaLink="false">oai:arXiv.org:2402.02222v1</guid>
      <category>cs.LG</category>
      <category>cs.CL</category>
      <pubDate>Mon, 05 Feb 2024 00:00:00 -0500</pubDate>
      <arxiv:announce_type>cross</arxiv:announce_type>
      <dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>
      <dc:creator>Grace Hopper</dc:creator>
    </item>
    <item>
      <title>Sparse Attention for Long Documents (revised)</title>
      <link>https://arxiv.org/abs/2401.01234</link>
      <description>arXiv:2401.01234v3 Announce Type: replace 
Abstract: The revised abstract of a paper first announced in January.</description>
      <guid isPermaLink="false">oai:arXiv.org:2401.01234v3</guid>
      <category>cs.CL</category>
      <pubDate>Mon, 05 Feb 2024 00:00:00 -0500</pubDate>
      <arxiv:announce_type>replace</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>Ada Lovelace</dc:creator>
    </item>
  </channel>
</rss>
"""

ATOM_LISTING = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/cs.CL</id>
  <title>cs.CL updates on arXiv.org</title>
  <updated>2024-02-05T05:00:00.000000+00:00</updated>
  <link href="http://rss.arxiv.org/atom/cs.CL" rel="self" type="application/atom+xml"/>
  <subtitle>cs.CL updates on the arXiv.org e-print archive.</subtitle>
  <entry>
    <id>oai:arXiv.org:2402.03333v1</id>
    <title>Speech Translation without Transcripts</title>
    <updated>2024-02-05T05:00:00.000000+00:00</updated>
    <link href="https://arxiv.org/abs/2402.03333" rel="alternate" type="text/html"/>
    <summary>arXiv:2402.03333v1 Announce Type: new 
Abstract: We translate speech end to end.</summary>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <published>2024-02-05T00:00:00-05:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
    <rights>http://creativecommons.org/licenses/by/4.0/</rights>
    <author><name>Mary Somerville</name></author>
    <author><name>Emmy Noether</name></author>
  </entry>
</feed>
"""


def test_new_and_cross_listings_are_added(engine: Engine, tmp_path: Path) -> None:
    report = ingest_detected(engine, write_file(tmp_path, "cs.CL.rss", RSS), "arxiv-rss")
    assert report.added == 3 and report.rejected == []
    new, cross = stored(engine, "2402.01111", "2402.02222")
    assert new.abstract == "We train byte-level language models without a tokenizer and match subword models."
    assert new.author_names == ["Ada Lovelace", "Balázs Csanád", "Alan Turing"]
    assert new.categories == ["cs.CL", "cs.LG"]
    assert new.published == datetime(2024, 2, 5, 5, 0, tzinfo=UTC)
    assert new.license == "http://creativecommons.org/licenses/by/4.0/"
    assert new.source == "arxiv-rss"
    assert cross.primary_category == "cs.LG" and cross.author_names == ["Grace Hopper"]


def test_replace_updates_a_stored_paper_and_keeps_its_history(engine: Engine, tmp_path: Path) -> None:
    jan = datetime(2024, 1, 2, 18, 0, tzinfo=UTC)
    old = make_paper(id="2401.01234", title="Sparse Attention for Long Documents", published=jan)
    old = replace(old, versions=[replace(old.versions[0], version=1), replace(old.versions[0], version=2)])
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[old])
    report = ingest_paths(engine=engine, paths=[write_file(tmp_path, "cs.CL.xml", RSS)])
    assert report.updated == 1 and report.added == 2
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="2401.01234")
    assert p is not None
    assert p.title == "Sparse Attention for Long Documents (revised)"
    assert [v.version for v in p.versions] == [1, 2, 3]
    assert p.published == jan  # a replacement announces a new version, not a new paper


def test_atom_listing_feed_is_read_too(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path, "cs.CL.atom", ATOM_LISTING)
    assert detect_format(path) == "arxiv-rss"
    report = ingest_paths(engine=engine, paths=[path])
    assert report.added == 1
    with engine.connect() as conn:
        p = get_paper(conn=conn, paper_id="2402.03333")
    assert p is not None
    assert p.author_names == ["Mary Somerville", "Emmy Noether"]
    assert p.abstract == "We translate speech end to end."


def test_empty_weekend_listing_is_not_an_error(engine: Engine, tmp_path: Path) -> None:
    start, end = RSS.index("<item>"), RSS.rindex("</item>") + len("</item>")
    report = ingest_paths(engine=engine, paths=[write_file(tmp_path, "empty.rss", RSS[:start] + RSS[end:])])
    assert (report.added, report.rejected) == (0, [])
