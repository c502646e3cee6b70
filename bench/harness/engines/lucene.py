"""Lucene 8 (Debian `liblucene8-java`) through a small Java driver compiled here.

Configured as Lucene's docs describe: StandardTokenizer + CJKWidth + LowerCase +
ASCIIFolding + CJKBigram (unigrams kept) analyzer; per query word a DisjunctionMaxQuery
over fields of TermQuery (field boost), FuzzyQuery (1 edit from 4 chars, 2 from 8,
prefixLength 1, transpositions) and PrefixQuery for the last word on the name-like fields;
all words MUST (SHOULD when nothing matches); popularity as a FeatureField saturation query.
"""
from __future__ import annotations

import glob
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ..common import du, run_measured
from .base import FIELDS, Engine, IndexStats, QueryResult, read_docs

JARS = ("core", "analyzers-common", "queries")
SRC = Path(__file__).with_name("LuceneBench.java")


def _jar(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/share/java/lucene-{name}-8*.jar"))
    return found[-1] if found else None


def _clean(s: str) -> str:
    return " ".join(s.replace("\t", " ").split())


class Lucene(Engine):
    name = "lucene"
    mode = "in-process"
    config = ("8.x (Debian); Standard+CJKWidth+LowerCase+ASCIIFolding+CJKBigram analyzer; per word dismax(term^w, "
              "fuzzy(1 edit from 4 chars, 2 from 8, prefixLength 1)^0.6w and prefix^0.8w on name/aliases/related); "
              "MUST all words (SHOULD when nothing matches); FeatureField saturation(pop) w=2 pivot=0.5; -Xmx2g")

    analyzer = "cjk"

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.classes: Path | None = None
        self.query_rss_kib = 0

    def missing(self) -> str | None:
        if not shutil.which("javac") or not shutil.which("java"):
            return "no JDK (Debian default-jdk-headless)"
        if not all(_jar(j) for j in JARS):
            return "liblucene8-java (Debian) not installed"
        return None

    def _jars(self) -> list[str]:
        return [str(_jar(j)) for j in JARS]

    def sources(self) -> list[Path]:
        return [SRC]

    def _cp(self) -> str:
        assert self.classes is not None
        return ":".join([str(self.classes)] + self._jars())

    def _java(self, *args: str) -> list[str]:
        return ["java", "-Xmx2g", "-XX:+UseParallelGC", f"-Dbench.analyzer={self.analyzer}", "-cp", self._cp(),
                "LuceneBench", *args]

    def index(self, docs: Path, catalog: Path, workdir: Path) -> IndexStats:
        self.classes = workdir / "lucene-classes"
        self.classes.mkdir(parents=True, exist_ok=True)
        subprocess.run(["javac", "-nowarn", "-d", str(self.classes), "-cp", ":".join(self._jars()),
                        *map(str, self.sources())], check=True, capture_output=True)
        tsv = workdir / f"{self.name}-docs.tsv"
        with open(tsv, "w", encoding="utf-8") as f:
            for d in read_docs(docs):
                cols = [d["id"]] + [_clean(" ; ".join(d[k]) if isinstance(d[k], list) else d[k]) for k in FIELDS]
                f.write("\t".join(cols + [str(d["pop"])]) + "\n")
        self.dir = workdir / f"{self.name}-index"
        shutil.rmtree(self.dir, ignore_errors=True)
        res = run_measured(self._java("index", str(tsv), str(self.dir)), stdout=subprocess.PIPE)
        n = sum(1 for _ in open(tsv, encoding="utf-8"))
        tsv.unlink()
        version = Path(str(_jar("core"))).stem.replace("lucene-core-", "")
        return IndexStats(res.seconds, n, du(self.dir), res.max_rss_kib, f"Lucene {version}, JVM start included")

    def run_queries(self, queries: list[dict[str, Any]]) -> list[QueryResult]:
        assert self.dir is not None
        qf = self.dir.parent / f"{self.name}-queries.txt"
        out = self.dir.parent / f"{self.name}-results.tsv"
        qf.write_text("".join(_clean(q["q"]) + "\n" for q in queries), encoding="utf-8")
        res = run_measured(self._java("query", str(self.dir), str(qf), str(out)))
        self.query_rss_kib = res.max_rss_kib
        rows = out.read_text(encoding="utf-8").splitlines()
        if len(rows) != len(queries):
            raise RuntimeError(f"lucene answered {len(rows)} of {len(queries)}: {json.dumps(res.stderr_tail)}")
        results = []
        for line in rows:
            parts = line.split("\t")
            results.append(QueryResult(parts[1:], float(parts[0])))
        return results


class LuceneIcu(Lucene):
    """The same Lucene with dictionary word segmentation instead of CJK bigrams: ICUTokenizer
    (ICU's dictionaries for Chinese/Japanese, Thai, Lao, Khmer, Myanmar; Unicode word breaks
    elsewhere) + CJKWidth + LowerCase + ASCIIFolding, what Elasticsearch's `icu_tokenizer`
    (analysis-icu) is recommended for on mixed Asian text. Jars: Debian `liblucene8-java`
    (`lucene-analyzers-icu`) and `libicu4j-java`."""

    name = "lucene-icu"
    analyzer = "icu"
    config = Lucene.config.replace("Standard+CJKWidth+LowerCase+ASCIIFolding+CJKBigram",
                                   "ICUTokenizer (dictionary segmentation)+CJKWidth+LowerCase+ASCIIFolding")

    def missing(self) -> str | None:
        base = super().missing()
        if base:
            return base
        if not _jar("analyzers-icu") or not Path("/usr/share/java/icu4j.jar").exists():
            return "lucene-analyzers-icu or icu4j missing (Debian liblucene8-java, libicu4j-java)"
        return None

    def sources(self) -> list[Path]:
        return [SRC, SRC.with_name("LuceneIcuAnalyzer.java")]

    def _jars(self) -> list[str]:
        return super()._jars() + [str(_jar("analyzers-icu")), "/usr/share/java/icu4j.jar"]
