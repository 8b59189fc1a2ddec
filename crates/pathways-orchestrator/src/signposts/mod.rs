//! Where a client can turn when no partner in their area can take a referral: a catalogue of
//! national services per need code.
//!
//! The built-in catalogue lists well-known UK national helplines and websites. A council can
//! load its own from a TOML file; a need the file mentions replaces the built-in entries for that
//! need, and a need it does not mention keeps them, so every need always has somewhere to turn.
//!
//! ```toml
//! [[signposts]]
//! needs = ["food", "debt_money"]
//! name = "Kensington Welfare Fund"
//! phone = "020 7361 0000"
//! url = "https://www.rbkc.gov.uk"
//! note = "emergency grants for residents"
//! # network = "citizens-advice"   # optional: never shown to clients of that network
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pathways_core::NeedCode;
use serde::Deserialize;

pub use pathways_core::Signpost;

/// National signposts per need code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignpostCatalogue {
    by_need: BTreeMap<NeedCode, Vec<Signpost>>,
}

/// A signpost file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SignpostError {
    /// The file could not be read.
    #[error("{}: cannot read the signpost file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid signpost catalogue.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file, or `signposts` for a string.
        origin: String,
        /// What is wrong, with the TOML parser's location.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    signposts: Vec<FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    needs: Vec<NeedCode>,
    name: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    network: Option<String>,
}

impl SignpostCatalogue {
    /// The built-in catalogue of UK national services.
    pub fn builtin() -> Self {
        let mut by_need: BTreeMap<NeedCode, Vec<Signpost>> = BTreeMap::new();
        for (needs, name, phone, url, note) in BUILTIN {
            let signpost = Signpost {
                name: (*name).to_string(),
                phone: phone.map(str::to_string),
                url: url.map(str::to_string),
                note: note.map(str::to_string),
                network: name.starts_with("Citizens Advice").then(|| "citizens-advice".to_string()),
            };
            for need in *needs {
                by_need.entry(*need).or_default().push(signpost.clone());
            }
        }
        Self { by_need }
    }

    /// The built-in catalogue with the needs listed in `toml` replaced by the file's entries.
    pub fn from_toml_str(toml: &str, origin: &str) -> Result<Self, SignpostError> {
        let file: CatalogueFile = toml::from_str(toml).map_err(|e| SignpostError::Invalid {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut from_file: BTreeMap<NeedCode, Vec<Signpost>> = BTreeMap::new();
        for (i, entry) in file.signposts.into_iter().enumerate() {
            let invalid = |message: String| SignpostError::Invalid {
                origin: origin.to_string(),
                message: format!("signposts[{i}]: {message}"),
            };
            if entry.name.trim().is_empty() {
                return Err(invalid("`name` must not be empty".into()));
            }
            if entry.phone.is_none() && entry.url.is_none() {
                return Err(invalid(format!(
                    "`{}` needs a `phone` or a `url`, or a client cannot reach it",
                    entry.name
                )));
            }
            if entry.needs.is_empty() {
                return Err(invalid("`needs` must list at least one need code".into()));
            }
            let signpost = Signpost {
                name: entry.name,
                phone: entry.phone,
                url: entry.url,
                note: entry.note,
                network: entry.network,
            };
            for need in entry.needs {
                from_file.entry(need).or_default().push(signpost.clone());
            }
        }
        let mut catalogue = Self::builtin();
        catalogue.by_need.extend(from_file);
        Ok(catalogue)
    }

    /// Reads a catalogue file (see the module docs for its shape).
    pub fn from_toml_file(path: &Path) -> Result<Self, SignpostError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SignpostError::Read { path: path.to_path_buf(), source })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The signposts for one need, most specific first.
    pub fn for_need(&self, need: NeedCode) -> &[Signpost] {
        self.by_need.get(&need).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The signposts for one need that do not belong to `network` (the referring
    /// organisation's own: a Citizens Advice client is not sent to the Citizens Advice
    /// Adviceline).
    pub fn for_need_outside(&self, need: NeedCode, network: Option<&str>) -> Vec<Signpost> {
        self.for_need(need)
            .iter()
            .filter(|s| network.is_none() || s.network.as_deref() != network)
            .cloned()
            .collect()
    }
}

impl Default for SignpostCatalogue {
    fn default() -> Self {
        Self::builtin()
    }
}

mod builtin;

use builtin::BUILTIN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_has_somewhere_to_turn_for_every_need() {
        let catalogue = SignpostCatalogue::builtin();
        for need in NeedCode::ALL {
            assert!(!catalogue.for_need(need).is_empty(), "no signpost for {need}");
        }
    }

    #[test]
    fn every_builtin_signpost_can_be_reached() {
        for (_, name, phone, url, _) in BUILTIN {
            assert!(phone.is_some() || url.is_some(), "{name} has neither phone nor url");
        }
    }

    #[test]
    fn signpost_reads_as_one_line() {
        let catalogue = SignpostCatalogue::builtin();
        let shelter = &catalogue.for_need(NeedCode::HousingHomelessness)[0];
        assert_eq!(shelter.to_string(), "Shelter helpline: 0808 800 4444 (housing advice)");
    }

    #[test]
    fn file_replaces_only_the_needs_it_lists() {
        let toml = r#"
            [[signposts]]
            needs = ["food"]
            name = "Local Welfare Fund"
            phone = "020 7000 0000"
        "#;
        let catalogue = SignpostCatalogue::from_toml_str(toml, "test.toml").unwrap();
        let food: Vec<&str> =
            catalogue.for_need(NeedCode::Food).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(food, ["Local Welfare Fund"]);
        assert_eq!(
            catalogue.for_need(NeedCode::DebtMoney),
            SignpostCatalogue::builtin().for_need(NeedCode::DebtMoney)
        );
    }

    #[test]
    fn file_errors_name_the_file_and_the_problem() {
        let unknown_need = r#"
            [[signposts]]
            needs = ["fod"]
            name = "X"
            phone = "1"
        "#;
        let err =
            SignpostCatalogue::from_toml_str(unknown_need, "council.toml").unwrap_err().to_string();
        assert!(err.starts_with("council.toml: "), "{err}");
        assert!(err.contains("fod"), "{err}");

        let unreachable = "[[signposts]]\nneeds = [\"food\"]\nname = \"X\"\n";
        let err =
            SignpostCatalogue::from_toml_str(unreachable, "council.toml").unwrap_err().to_string();
        assert!(err.contains("signposts[0]") && err.contains("`phone` or a `url`"), "{err}");
    }
}
