//! The real model, when installed on this machine (see `crate::real_model_dir`).

use needle_embed::{cosine, install, is_installed, Embedder, MiniLm, MODEL_NAME};

fn load() -> Option<MiniLm> {
    let Some(dir) = crate::real_model_dir() else {
        println!(
            "the real all-minilm-l6-v2 model is not installed (NEEDLE_EMBED_MODEL_DIR or \
             ~/.cache/needle/models/all-minilm-l6-v2): NOT checked"
        );
        return None;
    };
    Some(MiniLm::load(&dir).unwrap())
}

#[test]
fn real_model_vectors_are_unit_384d_and_batch_independent() {
    let Some(model) = load() else { return };
    assert_eq!(model.dim(), 384);
    assert_eq!(model.tag(), format!("{MODEL_NAME}@53aa5117"));
    let long = "a very long episode description about many things ".repeat(40);
    let texts = [
        "electric cars",
        "",
        "The history of jazz, from New Orleans to bebop and beyond",
        long.as_str(),
        "Mötley Crüe",
    ];
    let batch = model.embed(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    for (text, v) in texts.iter().zip(&batch) {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        let alone = &model.embed(&[text]).unwrap()[0];
        let diff = v.iter().zip(alone).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff < 1e-4, "padding changed {text:.30}: max diff {diff}");
    }
    assert!(model.embed(&[]).unwrap().is_empty());
}

#[test]
fn real_model_orders_by_meaning() {
    let Some(model) = load() else { return };
    let cases = [
        (
            "electric cars and climate change",
            "podcast about EVs and global warming",
            "knitting patterns for beginners",
        ),
        (
            "true crime stories",
            "a murder investigation told episode by episode",
            "cooking pasta at home",
        ),
        (
            "learn spanish",
            "language lessons for beginners in Spanish",
            "heavy metal guitar solos",
        ),
        (
            "meditation for better sleep",
            "calm bedtime relaxation audio",
            "stock market news today",
        ),
        (
            "the roman empire",
            "ancient Rome's emperors and legions",
            "football transfer rumours",
        ),
        (
            "audiobook for kids",
            "children's stories read aloud",
            "quarterly earnings call",
        ),
    ];
    for (q, near, far) in cases {
        let v = model.embed(&[q, near, far]).unwrap();
        let (n, f) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
        assert!(n > f + 0.1, "{q:?}: {near:?} {n} should beat {far:?} {f}");
    }
}

#[test]
fn real_model_max_tokens_is_part_of_the_tag() {
    let Some(model) = load() else { return };
    let model = model.with_max_tokens(256);
    assert_eq!(model.tag(), format!("{MODEL_NAME}@53aa5117/max256"));
    let long = "word ".repeat(300);
    assert_eq!(model.embed(&[&long]).unwrap()[0].len(), 384);
}

#[test]
fn real_model_installs_from_its_folder() {
    let Some(dir) = crate::real_model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("m");
    assert_eq!(install(&dir, &dest).unwrap(), dest);
    assert!(is_installed(&dest));
    std::fs::write(dest.join("model.safetensors"), b"truncated").unwrap();
    assert!(!is_installed(&dest), "a file of the wrong size is not installed");
}
