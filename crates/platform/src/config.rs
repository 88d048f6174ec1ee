//! Layered configuration: the commented defaults compiled into the binary, then a file, then
//! `INNKEEPER__SECTION__KEY` environment variables, then command-line flags. Errors name the
//! key that is wrong.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::de::DeserializeOwned;

/// Environment variables with this prefix override keys: `INNKEEPER__CATALOG__DATABASE_URL`.
pub const ENV_PREFIX: &str = "INNKEEPER__";

/// Loads `T` from the layers. `overrides` are `(dotted.key, value)` pairs from flags.
pub fn load<T: DeserializeOwned>(
    defaults: &str,
    file: Option<&Path>,
    overrides: &[(&str, serde_json::Value)],
) -> anyhow::Result<T> {
    let mut figment = Figment::from(Toml::string(defaults));
    if let Some(path) = file {
        if !path.exists() {
            anyhow::bail!("configuration file {} does not exist", path.display());
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment.merge(
        Env::prefixed(ENV_PREFIX)
            .split("__")
            .map(|k| k.as_str().to_ascii_lowercase().into()),
    );
    for (key, value) in overrides {
        figment = figment.merge(Serialized::default(key, value));
    }
    figment.extract().map_err(|err| {
        let mut message = String::from("invalid configuration");
        for e in err {
            message.push_str(&format!("\n  - {e}"));
        }
        anyhow::anyhow!(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Sample {
        node: Node,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Node {
        listen: String,
        workers: u32,
    }

    const DEFAULTS: &str = "[node]\n# where to listen\nlisten = \"127.0.0.1:8080\"\nworkers = 2\n";

    #[test]
    fn flags_override_defaults() {
        let cfg: Sample =
            load(DEFAULTS, None, &[("node.workers", serde_json::json!(8))]).expect("loads");
        assert_eq!(
            cfg.node,
            Node {
                listen: "127.0.0.1:8080".into(),
                workers: 8
            }
        );
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = load::<Sample>(
            DEFAULTS,
            None,
            &[("node.workers", serde_json::json!("many"))],
        )
        .expect_err("invalid");
        assert!(err.to_string().contains("node.workers"), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = load::<Sample>(
            DEFAULTS,
            Some(Path::new("/nonexistent/innkeeper.toml")),
            &[],
        )
        .expect_err("missing");
        assert!(err.to_string().contains("does not exist"));
    }
}
