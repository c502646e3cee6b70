// The `lucene-icu` analyzer: Lucene's ICUTokenizer with ICU's word break iterator (its
// dictionaries segment Chinese/Japanese, Thai, Lao, Khmer and Myanmar into words).
// Compiled only for `lucene-icu`, against Debian's lucene-analyzers-icu and icu4j.
//
// Debian's lucene-analyzers-icu 8.7 ships rule files compiled for a newer ICU than
// Debian's icu4j 60.2, so its DefaultICUTokenizerConfig fails to load; this config takes
// ICU's own root word iterator for every script instead, which is what the default config
// uses for the CJK and Southeast Asian scripts anyway.
import com.ibm.icu.lang.UScript;
import com.ibm.icu.text.BreakIterator;
import com.ibm.icu.text.RuleBasedBreakIterator;
import com.ibm.icu.util.ULocale;
import org.apache.lucene.analysis.*;
import org.apache.lucene.analysis.cjk.CJKWidthFilter;
import org.apache.lucene.analysis.icu.segmentation.ICUTokenizer;
import org.apache.lucene.analysis.icu.segmentation.ICUTokenizerConfig;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;

public class LuceneIcuAnalyzer extends Analyzer {
    static final class Config extends ICUTokenizerConfig {
        @Override
        public RuleBasedBreakIterator getBreakIterator(int script) {
            return (RuleBasedBreakIterator) BreakIterator.getWordInstance(ULocale.ROOT);
        }

        @Override
        public String getType(int script, int ruleStatus) {
            return script == UScript.HAN || script == UScript.HIRAGANA || script == UScript.KATAKANA
                    ? "<IDEOGRAPHIC>" : "<ALPHANUM>";
        }

        @Override
        public boolean combineCJ() {
            return true;
        }
    }

    @Override
    protected TokenStreamComponents createComponents(String field) {
        Tokenizer src = new ICUTokenizer(new Config());
        TokenStream ts = new CJKWidthFilter(src);
        ts = new LowerCaseFilter(ts);
        ts = new ASCIIFoldingFilter(ts);
        return new TokenStreamComponents(src, ts);
    }
}
