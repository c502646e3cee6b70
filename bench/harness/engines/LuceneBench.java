// Lucene 8 driver for the Needle benchmark, compiled by the harness against Debian's
// liblucene8-java. `index DOCS.tsv DIR` builds the index; `query DIR QUERIES.txt OUT.tsv`
// runs each query twice and writes "micros<TAB>id<TAB>id..." for the second run.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.lucene.analysis.*;
import org.apache.lucene.analysis.cjk.CJKBigramFilter;
import org.apache.lucene.analysis.cjk.CJKWidthFilter;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.store.FSDirectory;

public class LuceneBench {
    static final String[] FIELDS = {"name", "aliases", "related", "album", "tags", "description", "transcript"};
    static final float[] WEIGHTS = {10, 9, 7, 5, 4, 3, 2};
    static final int NAME_LIKE = 3; // the first three fields get fuzzy and prefix matching

    static Analyzer analyzer() {
        if ("icu".equals(System.getProperty("bench.analyzer"))) return icuAnalyzer();
        return new Analyzer() {
            @Override
            protected TokenStreamComponents createComponents(String field) {
                Tokenizer src = new StandardTokenizer();
                TokenStream ts = new CJKWidthFilter(src);
                ts = new LowerCaseFilter(ts);
                ts = new ASCIIFoldingFilter(ts);
                ts = new CJKBigramFilter(ts, CJKBigramFilter.HAN | CJKBigramFilter.HIRAGANA
                        | CJKBigramFilter.KATAKANA | CJKBigramFilter.HANGUL, true);
                return new TokenStreamComponents(src, ts);
            }
        };
    }

    // Dictionary word segmentation (ICU): LuceneIcuAnalyzer.java, loaded by name so the
    // bigram analyzer compiles and runs without the ICU jars.
    static Analyzer icuAnalyzer() {
        try {
            return (Analyzer) Class.forName("LuceneIcuAnalyzer").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new RuntimeException("LuceneIcuAnalyzer: compile it with lucene-analyzers-icu and icu4j", e);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("index")) index(Paths.get(args[1]), Paths.get(args[2]));
        else query(Paths.get(args[1]), Paths.get(args[2]), Paths.get(args[3]));
    }

    static void index(Path docs, Path dir) throws IOException {
        IndexWriterConfig cfg = new IndexWriterConfig(analyzer());
        cfg.setRAMBufferSizeMB(256);
        cfg.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
        long n = 0;
        try (IndexWriter w = new IndexWriter(FSDirectory.open(dir), cfg);
             BufferedReader r = Files.newBufferedReader(docs, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                String[] c = line.split("\t", -1);
                Document d = new Document();
                d.add(new StringField("id", c[0], Field.Store.YES));
                for (int i = 0; i < FIELDS.length; i++) {
                    if (!c[i + 1].isEmpty()) d.add(new TextField(FIELDS[i], c[i + 1], Field.Store.NO));
                }
                d.add(new FeatureField("features", "pop", Math.max(1e-3f, Float.parseFloat(c[FIELDS.length + 1]))));
                w.addDocument(d);
                n++;
            }
            w.commit();
        }
        System.out.println(n);
    }

    static List<String> tokens(Analyzer a, String text) throws IOException {
        List<String> out = new ArrayList<>();
        try (TokenStream ts = a.tokenStream("name", text)) {
            CharTermAttribute t = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken()) out.add(t.toString());
            ts.end();
        }
        return out;
    }

    static int budget(String t) {
        int n = t.codePointCount(0, t.length());
        return n < 4 ? 0 : (n < 8 ? 1 : 2);
    }

    static Query word(String t, boolean last) {
        List<Query> subs = new ArrayList<>();
        for (int i = 0; i < FIELDS.length; i++) {
            String f = FIELDS[i];
            float w = WEIGHTS[i];
            subs.add(new BoostQuery(new TermQuery(new Term(f, t)), w));
            if (i < NAME_LIKE) {
                if (budget(t) > 0) subs.add(new BoostQuery(new FuzzyQuery(new Term(f, t), budget(t), 1, 50, true), 0.6f * w));
                if (last) subs.add(new BoostQuery(new PrefixQuery(new Term(f, t)), 0.8f * w));
            }
        }
        return new DisjunctionMaxQuery(subs, 0.0f);
    }

    static Query build(List<String> toks, boolean prefixLast, BooleanClause.Occur occur) {
        BooleanQuery.Builder b = new BooleanQuery.Builder();
        for (int i = 0; i < toks.size(); i++) b.add(word(toks.get(i), prefixLast && i == toks.size() - 1), occur);
        if (occur == BooleanClause.Occur.SHOULD) b.setMinimumNumberShouldMatch(1);
        b.add(FeatureField.newSaturationQuery("features", "pop", 2.0f, 0.5f), BooleanClause.Occur.SHOULD);
        return b.build();
    }

    static List<String> search(IndexSearcher s, Analyzer a, String q, int limit) throws IOException {
        List<String> toks = tokens(a, q);
        List<String> ids = new ArrayList<>();
        if (toks.isEmpty()) return ids;
        boolean prefixLast = !q.endsWith(" ");
        TopDocs td = s.search(build(toks, prefixLast, BooleanClause.Occur.MUST), limit);
        if (td.scoreDocs.length == 0 && toks.size() > 1) td = s.search(build(toks, prefixLast, BooleanClause.Occur.SHOULD), limit);
        for (ScoreDoc sd : td.scoreDocs) ids.add(s.doc(sd.doc).get("id"));
        return ids;
    }

    static void query(Path dir, Path queries, Path out) throws IOException {
        Analyzer a = analyzer();
        try (DirectoryReader reader = DirectoryReader.open(FSDirectory.open(dir));
             BufferedReader r = Files.newBufferedReader(queries, StandardCharsets.UTF_8);
             PrintWriter w = new PrintWriter(Files.newBufferedWriter(out, StandardCharsets.UTF_8))) {
            IndexSearcher s = new IndexSearcher(reader);
            String q;
            while ((q = r.readLine()) != null) {
                List<String> ids = null;
                long micros = 0;
                for (int k = 0; k < 2; k++) {
                    long t0 = System.nanoTime();
                    ids = search(s, a, q, 10);
                    micros = (System.nanoTime() - t0) / 1000;
                }
                w.println(micros + (ids.isEmpty() ? "" : "\t" + String.join("\t", ids)));
            }
        }
    }
}
