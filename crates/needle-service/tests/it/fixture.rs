//! A small hand-made catalog covering the cases the relevance suite asks about.

use needle_search::EngineConfig;
use needle_service::{Service, ServiceConfig};
use serde_json::{json, Value};

pub fn catalog() -> Vec<Value> {
    vec![
        json!({"id":"ar:adele","type":"artist","name":"Adele","popularity":95,"tags":["pop","soul"]}),
        json!({"id":"ar:lionel","type":"artist","name":"Lionel Richie","popularity":70}),
        json!({"id":"ar:obscure","type":"artist","name":"The Hellos","popularity":1}),
        json!({"id":"ar:beyonce","type":"artist","name":"Beyoncé","popularity":96,"tags":["r&b"]}),
        json!({"id":"ar:motley","type":"artist","name":"Mötley Crüe","popularity":60,"tags":["glam metal"]}),
        json!({"id":"ar:metallica","type":"artist","name":"Metallica","popularity":88,"tags":["metal"]}),
        json!({"id":"ar:acdc","type":"artist","name":"AC/DC","popularity":85}),
        json!({"id":"ar:jayz","type":"artist","name":"Jay-Z","popularity":80}),
        json!({"id":"ar:kesha","type":"artist","name":"Ke$ha","popularity":60}),
        json!({"id":"ar:beatles","type":"artist","name":"The Beatles","popularity":99}),
        json!({"id":"ar:shakira","type":"artist","name":"Shakira","popularity":85}),
        json!({"id":"ar:tokyo","type":"artist","name":"東京事変","aliases":["Tokyo Jihen"],"popularity":40}),
        json!({"id":"ar:kino","type":"artist","name":"Кино","popularity":50}),
        json!({"id":"ar:bts","type":"artist","name":"방탄소년단","aliases":["BTS"],"popularity":90}),
        json!({"id":"ar:fairuz","type":"artist","name":"فيروز","popularity":45}),
        json!({"id":"ar:lata","type":"artist","name":"लता मंगेशकर","popularity":55}),
        json!({"id":"ar:jay","type":"artist","name":"周杰倫","popularity":60}),
        json!({"id":"tr:hello-adele","type":"track","name":"Hello","artist_ids":["ar:adele"],"album_id":"al:25","popularity":90,"release_date":"2015-10-23"}),
        json!({"id":"tr:hello-lionel","type":"track","name":"Hello","artist_ids":["ar:lionel"],"popularity":60,"release_date":"1984"}),
        json!({"id":"tr:hello-obscure","type":"track","name":"Hello","artist_ids":["ar:obscure"],"popularity":0.5}),
        json!({"id":"tr:hello-goodbye","type":"track","name":"Hello, Goodbye","artist_ids":["ar:beatles"],"popularity":80}),
        json!({"id":"tr:helloween","type":"track","name":"Hellowinter Song","popularity":95}),
        json!({"id":"tr:halo","type":"track","name":"Halo","artist_ids":["ar:beyonce"],"popularity":85,"explicit":false}),
        json!({"id":"tr:crazy","type":"track","name":"Crazy in Love (feat. Jay-Z)","artist_ids":["ar:beyonce","ar:jayz"],"popularity":88,"explicit":true,"release_date":"2003-05-18","markets":["US","GB"]}),
        json!({"id":"tr:enter","type":"track","name":"Enter Sandman","artist_ids":["ar:metallica"],"popularity":85,"release_date":"1991"}),
        json!({"id":"tr:tnt","type":"track","name":"T.N.T.","artist_ids":["ar:acdc"],"popularity":70,"release_date":"1975"}),
        json!({"id":"tr:kickstart","type":"track","name":"Kickstart My Heart","artist_ids":["ar:motley"],"popularity":65}),
        json!({"id":"tr:tiktok","type":"track","name":"TiK ToK","artist_ids":["ar:kesha"],"popularity":75}),
        json!({"id":"tr:hips","type":"track","name":"Hips Don't Lie","artist_ids":["ar:shakira"],"popularity":80}),
        json!({"id":"tr:love-story","type":"track","name":"Love Story","artist_ids":["ar:taylor"],"popularity":85}),
        json!({"id":"ar:taylor","type":"artist","name":"Taylor Swift","popularity":98}),
        json!({"id":"tr:love","type":"track","name":"Love","popularity":20}),
        json!({"id":"tr:tsumiki","type":"track","name":"群青日和","artist_ids":["ar:tokyo"],"popularity":30}),
        json!({"id":"al:25","type":"album","name":"25","artist_ids":["ar:adele"],"popularity":85}),
        json!({"id":"sh:daily","type":"show","name":"The Daily","publisher":"The New York Times","popularity":95,"language":"en","tags":["news"],
               "description":"This is what the news should sound like. Twenty minutes a day, five days a week."}),
        json!({"id":"sh:hist","type":"show","name":"Hardcore History","publisher":"Dan Carlin","popularity":70,"language":"en",
               "description":"In-depth retellings of the Punic wars, the Mongols and the Eastern Front."}),
        json!({"id":"ep:1","type":"episode","name":"Episode 12: Rust in production","show_id":"sh:changelog","duration_ms":3600000,
               "transcript":"today we talk about borrow checkers, lifetimes and fearless concurrency"}),
        json!({"id":"sh:changelog","type":"show","name":"The Changelog","publisher":"Changelog Media","popularity":50}),
        json!({"id":"ab:pride","type":"audiobook","name":"Pride and Prejudice","authors":["Jane Austen"],"narrators":["Karen Savage"],"popularity":5000,"language":"en"}),
        json!({"id":"ch:pride-1","type":"chapter","name":"Chapter 1","audiobook_id":"ab:pride","duration_ms":600000}),
        json!({"id":"ar:kyau","type":"artist","name":"Kyau vs. Albert","popularity":10}),
        json!({"id":"ar:v","type":"artist","name":"V","popularity":60}),
        json!({"id":"sh:model","type":"show","name":"Model","popularity":1}),
        json!({"id":"ch:the-model","type":"chapter","name":"The Model","popularity":50}),
        json!({"id":"ar:smokey","type":"artist","name":"Smokey","popularity":1}),
        json!({"id":"tr:smokey-sings","type":"track","name":"When Smokey Sings","popularity":90}),
        json!({"id":"ar:anniela","type":"artist","name":"Anniela","popularity":1}),
        json!({"id":"ar:annie","type":"artist","name":"Annie","popularity":90}),
        json!({"id":"sh:tramp","type":"show","name":"Tramp Abroad","popularity":10}),
        json!({"id":"sh:tramp-twain","type":"show","name":"A Tramp Abroad by Mark Twain","popularity":12}),
        json!({"id":"ab:krieg","type":"audiobook","name":"Krieg und Frieden","authors":["Lew Tolstoi"],"language":"de","popularity":100}),
    ]
}

pub fn open(dir: &std::path::Path) -> Service {
    Service::open(ServiceConfig::new(EngineConfig::new(dir))).unwrap()
}

pub fn engine() -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let report = engine.write_values(catalog()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    engine.refresh().unwrap();
    (dir, engine)
}
