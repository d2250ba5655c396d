//! The crash test's victim: creates and revokes tokens through the store as fast as it can,
//! printing each token only after the call that made it durable returned. The test kills it
//! with SIGKILL at a random moment and checks that everything printed survived.
//!
//! Usage: `store-crash-child <database path | postgresql://URL>`; runs until killed.

use jwtgate_store::{Options, PostgresOptions, Store, TokenRecord};
use std::io::Write;

fn main() {
    let target = std::env::args().nth(1).expect("usage: store-crash-child <database path | postgresql://URL>");
    let opened = match target.starts_with("postgresql://") {
        true => Store::open_postgres(&PostgresOptions::new(target)),
        false => Store::open(&Options::new(target)),
    };
    let store = opened.unwrap_or_else(|error| {
        eprintln!("store-crash-child: {error}");
        std::process::exit(2)
    });
    let stdout = std::io::stdout();
    // Tells the parent whether a kill landed in the open (recovery) or in the writes.
    writeln!(stdout.lock(), "opened").expect("write to the parent");
    let mut created: Vec<String> = Vec::new();
    for sequence in 0u64.. {
        let mut random = [0u8; 16];
        aws_lc_rs::rand::fill(&mut random).expect("random bytes");
        let token = format!("hvs.{}", hex::encode(random));
        let record = TokenRecord {
            accessor: format!("acc-{}", hex::encode(&random[..8])),
            policies: vec!["default".into()],
            mount: "jwt".into(),
            creation_time: 1_700_000_000,
            creation_ttl: 3600,
            expire_time: Some(1_700_003_600),
            renewable: true,
            ..TokenRecord::default()
        };
        store.create_token(&token, &record).expect("create a token");
        writeln!(stdout.lock(), "created {token}").expect("write to the parent");
        created.push(token);
        if sequence % 7 == 3 {
            let victim = created.swap_remove((sequence as usize * 31) % created.len());
            // Announced first: if the kill lands inside the call, the parent cannot know the outcome.
            writeln!(stdout.lock(), "revoking {victim}").expect("write to the parent");
            store.revoke_token(&victim).expect("revoke a token");
            writeln!(stdout.lock(), "revoked {victim}").expect("write to the parent");
        }
    }
}
