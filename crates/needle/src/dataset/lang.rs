//! Language codes: ISO 639-2 (B and T) and a few ISO 639-3 codes or English language
//! names to ISO 639-1 two-letter codes.

/// (ISO 639-1, ISO 639-2/T, ISO 639-2/B or "", English name) for every ISO 639-1 language.
#[rustfmt::skip]
const LANGS: &[(&str, &str, &str, &str)] = &[
    ("aa", "aar", "", "Afar"), ("ab", "abk", "", "Abkhazian"), ("ae", "ave", "", "Avestan"),
    ("af", "afr", "", "Afrikaans"), ("ak", "aka", "", "Akan"), ("am", "amh", "", "Amharic"),
    ("an", "arg", "", "Aragonese"), ("ar", "ara", "", "Arabic"), ("as", "asm", "", "Assamese"),
    ("av", "ava", "", "Avaric"), ("ay", "aym", "", "Aymara"), ("az", "aze", "", "Azerbaijani"),
    ("ba", "bak", "", "Bashkir"), ("be", "bel", "", "Belarusian"), ("bg", "bul", "", "Bulgarian"),
    ("bh", "bih", "", "Bihari"), ("bi", "bis", "", "Bislama"), ("bm", "bam", "", "Bambara"),
    ("bn", "ben", "", "Bengali"), ("bo", "bod", "tib", "Tibetan"), ("br", "bre", "", "Breton"),
    ("bs", "bos", "", "Bosnian"), ("ca", "cat", "", "Catalan"), ("ce", "che", "", "Chechen"),
    ("ch", "cha", "", "Chamorro"), ("co", "cos", "", "Corsican"), ("cr", "cre", "", "Cree"),
    ("cs", "ces", "cze", "Czech"), ("cu", "chu", "", "Church Slavonic"),
    ("cv", "chv", "", "Chuvash"), ("cy", "cym", "wel", "Welsh"), ("da", "dan", "", "Danish"),
    ("de", "deu", "ger", "German"), ("dv", "div", "", "Divehi"), ("dz", "dzo", "", "Dzongkha"),
    ("ee", "ewe", "", "Ewe"), ("el", "ell", "gre", "Greek"), ("en", "eng", "", "English"),
    ("eo", "epo", "", "Esperanto"), ("es", "spa", "", "Spanish"), ("et", "est", "", "Estonian"),
    ("eu", "eus", "baq", "Basque"), ("fa", "fas", "per", "Persian"), ("ff", "ful", "", "Fulah"),
    ("fi", "fin", "", "Finnish"), ("fj", "fij", "", "Fijian"), ("fo", "fao", "", "Faroese"),
    ("fr", "fra", "fre", "French"), ("fy", "fry", "", "Western Frisian"),
    ("ga", "gle", "", "Irish"), ("gd", "gla", "", "Scottish Gaelic"), ("gl", "glg", "", "Galician"),
    ("gn", "grn", "", "Guarani"), ("gu", "guj", "", "Gujarati"), ("gv", "glv", "", "Manx"),
    ("ha", "hau", "", "Hausa"), ("he", "heb", "", "Hebrew"), ("hi", "hin", "", "Hindi"),
    ("ho", "hmo", "", "Hiri Motu"), ("hr", "hrv", "", "Croatian"), ("ht", "hat", "", "Haitian"),
    ("hu", "hun", "", "Hungarian"), ("hy", "hye", "arm", "Armenian"), ("hz", "her", "", "Herero"),
    ("ia", "ina", "", "Interlingua"), ("id", "ind", "", "Indonesian"),
    ("ie", "ile", "", "Interlingue"), ("ig", "ibo", "", "Igbo"), ("ii", "iii", "", "Sichuan Yi"),
    ("ik", "ipk", "", "Inupiaq"), ("io", "ido", "", "Ido"), ("is", "isl", "ice", "Icelandic"),
    ("it", "ita", "", "Italian"), ("iu", "iku", "", "Inuktitut"), ("ja", "jpn", "", "Japanese"),
    ("jv", "jav", "", "Javanese"), ("ka", "kat", "geo", "Georgian"), ("kg", "kon", "", "Kongo"),
    ("ki", "kik", "", "Kikuyu"), ("kj", "kua", "", "Kuanyama"), ("kk", "kaz", "", "Kazakh"),
    ("kl", "kal", "", "Kalaallisut"), ("km", "khm", "", "Khmer"), ("kn", "kan", "", "Kannada"),
    ("ko", "kor", "", "Korean"), ("kr", "kau", "", "Kanuri"), ("ks", "kas", "", "Kashmiri"),
    ("ku", "kur", "", "Kurdish"), ("kv", "kom", "", "Komi"), ("kw", "cor", "", "Cornish"),
    ("ky", "kir", "", "Kyrgyz"), ("la", "lat", "", "Latin"), ("lb", "ltz", "", "Luxembourgish"),
    ("lg", "lug", "", "Ganda"), ("li", "lim", "", "Limburgish"), ("ln", "lin", "", "Lingala"),
    ("lo", "lao", "", "Lao"), ("lt", "lit", "", "Lithuanian"), ("lu", "lub", "", "Luba-Katanga"),
    ("lv", "lav", "", "Latvian"), ("mg", "mlg", "", "Malagasy"), ("mh", "mah", "", "Marshallese"),
    ("mi", "mri", "mao", "Maori"), ("mk", "mkd", "mac", "Macedonian"),
    ("ml", "mal", "", "Malayalam"), ("mn", "mon", "", "Mongolian"), ("mr", "mar", "", "Marathi"),
    ("ms", "msa", "may", "Malay"), ("mt", "mlt", "", "Maltese"), ("my", "mya", "bur", "Burmese"),
    ("na", "nau", "", "Nauru"), ("nb", "nob", "", "Norwegian Bokmål"),
    ("nd", "nde", "", "North Ndebele"), ("ne", "nep", "", "Nepali"), ("ng", "ndo", "", "Ndonga"),
    ("nl", "nld", "dut", "Dutch"), ("nn", "nno", "", "Norwegian Nynorsk"),
    ("no", "nor", "", "Norwegian"), ("nr", "nbl", "", "South Ndebele"), ("nv", "nav", "", "Navajo"),
    ("ny", "nya", "", "Chichewa"), ("oc", "oci", "", "Occitan"), ("oj", "oji", "", "Ojibwa"),
    ("om", "orm", "", "Oromo"), ("or", "ori", "", "Oriya"), ("os", "oss", "", "Ossetian"),
    ("pa", "pan", "", "Punjabi"), ("pi", "pli", "", "Pali"), ("pl", "pol", "", "Polish"),
    ("ps", "pus", "", "Pashto"), ("pt", "por", "", "Portuguese"), ("qu", "que", "", "Quechua"),
    ("rm", "roh", "", "Romansh"), ("rn", "run", "", "Rundi"), ("ro", "ron", "rum", "Romanian"),
    ("ru", "rus", "", "Russian"), ("rw", "kin", "", "Kinyarwanda"), ("sa", "san", "", "Sanskrit"),
    ("sc", "srd", "", "Sardinian"), ("sd", "snd", "", "Sindhi"), ("se", "sme", "", "Northern Sami"),
    ("sg", "sag", "", "Sango"), ("si", "sin", "", "Sinhala"), ("sk", "slk", "slo", "Slovak"),
    ("sl", "slv", "", "Slovenian"), ("sm", "smo", "", "Samoan"), ("sn", "sna", "", "Shona"),
    ("so", "som", "", "Somali"), ("sq", "sqi", "alb", "Albanian"), ("sr", "srp", "", "Serbian"),
    ("ss", "ssw", "", "Swati"), ("st", "sot", "", "Southern Sotho"), ("su", "sun", "", "Sundanese"),
    ("sv", "swe", "", "Swedish"), ("sw", "swa", "", "Swahili"), ("ta", "tam", "", "Tamil"),
    ("te", "tel", "", "Telugu"), ("tg", "tgk", "", "Tajik"), ("th", "tha", "", "Thai"),
    ("ti", "tir", "", "Tigrinya"), ("tk", "tuk", "", "Turkmen"), ("tl", "tgl", "", "Tagalog"),
    ("tn", "tsn", "", "Tswana"), ("to", "ton", "", "Tonga"), ("tr", "tur", "", "Turkish"),
    ("ts", "tso", "", "Tsonga"), ("tt", "tat", "", "Tatar"), ("tw", "twi", "", "Twi"),
    ("ty", "tah", "", "Tahitian"), ("ug", "uig", "", "Uyghur"), ("uk", "ukr", "", "Ukrainian"),
    ("ur", "urd", "", "Urdu"), ("uz", "uzb", "", "Uzbek"), ("ve", "ven", "", "Venda"),
    ("vi", "vie", "", "Vietnamese"), ("vo", "vol", "", "Volapük"), ("wa", "wln", "", "Walloon"),
    ("wo", "wol", "", "Wolof"), ("xh", "xho", "", "Xhosa"), ("yi", "yid", "", "Yiddish"),
    ("yo", "yor", "", "Yoruba"), ("za", "zha", "", "Zhuang"), ("zh", "zho", "chi", "Chinese"),
    ("zu", "zul", "", "Zulu"),
];

/// ISO 639-3 individual-language codes (and other names) that stand for an ISO 639-1
/// language. `fil` maps to `tl` as most software does (Filipino is standardised Tagalog).
#[rustfmt::skip]
const ALIASES: &[(&str, &str)] = &[
    ("cmn", "zh"), ("yue", "zh"), ("arb", "ar"), ("pes", "fa"), ("prs", "fa"), ("zsm", "ms"),
    ("swh", "sw"), ("ekk", "et"), ("lvs", "lv"), ("uzn", "uz"), ("pbu", "ps"), ("khk", "mn"),
    ("ydd", "yi"), ("azj", "az"), ("plt", "mg"), ("fil", "tl"), ("iw", "he"), ("in", "id"),
    ("ji", "yi"), ("filipino", "tl"), ("farsi", "fa"), ("castilian", "es"), ("flemish", "nl"),
    ("modern greek", "el"), ("panjabi", "pa"), ("kirghiz", "ky"), ("moldavian", "ro"),
    ("gaelic", "gd"), ("haitian creole", "ht"), ("sinhalese", "si"), ("bokmål", "nb"),
    ("norwegian bokmal", "nb"), ("nynorsk", "nn"), ("old church slavonic", "cu"),
    ("church slavic", "cu"), ("uighur", "ug"), ("pushto", "ps"), ("odia", "or"),
    ("frisian", "fy"), ("bangla", "bn"), ("mandarin", "zh"), ("cantonese", "zh"),
    ("myanmar", "my"), ("malaysian", "ms"), ("slovene", "sl"), ("valencian", "ca"),
    ("letzeburgesch", "lb"), ("nyanja", "ny"), ("chewa", "ny"), ("tibetan standard", "bo"),
];

/// Convert a language code or English name to ISO 639-1, or `None` when unknown or not
/// a single language (`?`, `mul`, `und`, "Multilingual", "Ancient Greek" which has no
/// two-letter code). Accepts `en`, `EN`, `en-US`, `eng`, `ger`/`deu`, `English`, and
/// names with alternatives such as `Bisaya/Cebuano` (the first known part wins).
pub(crate) fn to_iso639_1(input: &str) -> Option<&'static str> {
    let s = input.trim().to_lowercase();
    if s.is_empty() {
        return None;
    }
    if let Some(code) = lookup(&s) {
        return Some(code);
    }
    // Region or script subtags: `en-US`, `pt_BR`, `zh-Hant`.
    if let Some(first) = s.split(['-', '_']).next() {
        if first.len() <= 3 && first != s {
            if let Some(code) = lookup(first) {
                return Some(code);
            }
        }
    }
    // Alternatives: `Dholuo/Luo`, `Bisaya/Cebuano`, `English; French`.
    if s.contains(['/', ',', ';']) {
        return s.split(['/', ',', ';']).find_map(|p| lookup(p.trim()));
    }
    None
}

fn lookup(s: &str) -> Option<&'static str> {
    match s.len() {
        2 => LANGS.iter().find(|l| l.0 == s).map(|l| l.0),
        3 => LANGS.iter().find(|l| l.1 == s || l.2 == s).map(|l| l.0),
        _ => LANGS
            .iter()
            .find(|l| l.3.chars().flat_map(char::to_lowercase).eq(s.chars()))
            .map(|l| l.0),
    }
    .or_else(|| ALIASES.iter().find(|a| a.0 == s).map(|a| a.1))
}

#[cfg(test)]
mod tests {
    use super::to_iso639_1 as f;

    #[test]
    fn codes() {
        for (input, want) in [
            ("eng", "en"),
            ("deu", "de"),
            ("ger", "de"),
            ("fra", "fr"),
            ("fre", "fr"),
            ("jpn", "ja"),
            ("zho", "zh"),
            ("chi", "zh"),
            ("nob", "nb"),
            ("fil", "tl"),
            ("EN", "en"),
            ("en-US", "en"),
            ("pt_BR", "pt"),
            ("cze", "cs"),
            ("msa", "ms"),
        ] {
            assert_eq!(f(input), Some(want), "{input}");
        }
        for input in ["", "?", "mul", "und", "grc", "enm", "xx", "english-ish-thing"] {
            assert_eq!(f(input), None, "{input}");
        }
    }

    #[test]
    fn names() {
        for (input, want) in [
            ("English", "en"),
            ("German", "de"),
            ("Dutch", "nl"),
            ("Church Slavonic", "cu"),
            ("Greek", "el"),
            ("Tagalog", "tl"),
            ("  spanish ", "es"),
            ("Norwegian Bokmål", "nb"),
            ("Farsi", "fa"),
        ] {
            assert_eq!(f(input), Some(want), "{input}");
        }
        for input in [
            "Multilingual",
            "Ancient Greek",
            "Middle English",
            "Dholuo/Luo",
            "Bisaya/Cebuano",
        ] {
            assert_eq!(f(input), None, "{input}");
        }
    }

    #[test]
    fn every_row_is_well_formed() {
        for (a, b, c, name) in super::LANGS {
            assert_eq!(a.len(), 2);
            assert_eq!(b.len(), 3);
            assert!(c.is_empty() || c.len() == 3);
            assert_eq!(f(name), Some(*a));
        }
    }
}
