use needle_embed::{cosine, Embedder, HashEmbedder};

#[test]
fn same_text_same_vector_across_instances_and_batches() {
    let a = HashEmbedder::new(128);
    let b = HashEmbedder::new(128);
    let texts = ["The Daily", "Mötley Crüe", "", "a longer description of a show"];
    let batch = a.embed(&texts).unwrap();
    for (t, v) in texts.iter().zip(&batch) {
        assert_eq!(&b.embed(&[t]).unwrap()[0], v);
    }
    assert_eq!(batch.len(), texts.len());
}

#[test]
fn vectors_are_unit_length_with_dim_floats() {
    for dim in [1, 16, 384] {
        let e = HashEmbedder::new(dim);
        assert_eq!(e.dim(), dim);
        assert_eq!(e.tag(), format!("hash-{dim}"));
        for v in e.embed(&["", "   ", "x", "jazz", "東京事変 群青日和"]).unwrap() {
            assert_eq!(v.len(), dim);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "dim {dim}: norm {norm}");
        }
    }
}

#[test]
fn closeness_follows_shared_words_and_trigrams() {
    let e = HashEmbedder::new(384);
    let q = e.embed_one("electric cars");
    let same_words = e.embed_one("Electric Cars and the future");
    let typo = e.embed_one("electrik carz");
    let unrelated = e.embed_one("knitting patterns for beginners");
    let (s, t, u) = (cosine(&q, &same_words), cosine(&q, &typo), cosine(&q, &unrelated));
    assert!(s > t && t > u, "shared words {s} > shared trigrams {t} > unrelated {u}");
    assert!(u.abs() < 0.3, "unrelated texts are nearly orthogonal: {u}");
}
