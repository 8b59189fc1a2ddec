//! The message catalogue: every client-facing word of a plan comes from a Fluent catalogue
//! (`messages/en.ftl`, built in), picked by the case's `preferred_language`.
//!
//! A council adds or corrects a language by putting `<code>.ftl` files in the folder named by
//! `[orchestrator] messages_dir`; a message missing from a language is said in English, so a
//! partial translation is safe. A file that does not parse is refused at load with its name
//! and the line of the first error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

const ENGLISH: &str = include_str!("../messages/en.ftl");

type Bundle = FluentBundle<FluentResource>;

/// Every language's catalogue; English is always there.
#[derive(Clone)]
pub struct Messages {
    bundles: Arc<BTreeMap<String, Bundle>>,
}

/// A catalogue that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    /// The folder or a file could not be read.
    #[error("{}: cannot read the message catalogue: {source}", path.display())]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid Fluent, or is named for no language.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

impl Messages {
    /// English only.
    pub fn builtin() -> Self {
        let mut bundles = BTreeMap::new();
        bundles.insert(
            "en".to_string(),
            bundle("en", ENGLISH).unwrap_or_else(|_| unreachable_catalogue()),
        );
        Self { bundles: Arc::new(bundles) }
    }

    /// English, plus (and overridden by) every `<code>.ftl` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, MessagesError> {
        let read_err = |source| MessagesError::Read { path: dir.to_path_buf(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
            .collect();
        files.sort();
        let mut bundles = BTreeMap::new();
        let mut english = bundle("en", ENGLISH).unwrap_or_else(|_| unreachable_catalogue());
        for path in files {
            let code = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(MessagesError::Invalid {
                    path,
                    message:
                        "a catalogue is named for its language's ISO 639-1 code, e.g. `cy.ftl`"
                            .into(),
                });
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|source| MessagesError::Read { path: path.clone(), source })?;
            // Parsed now, so a broken file is refused at load, not when a plan is made.
            let invalid = |message| MessagesError::Invalid { path: path.clone(), message };
            if code == "en" {
                // Corrections to the built-in English, message by message.
                english.add_resource_overriding(resource(&text).map_err(invalid)?);
            } else {
                bundles.insert(code.clone(), bundle(&code, &text).map_err(invalid)?);
            }
        }
        bundles.insert("en".to_string(), english);
        Ok(Self { bundles: Arc::new(bundles) })
    }

    /// The languages it has, English first.
    pub fn languages(&self) -> Vec<&str> {
        let mut codes: Vec<&str> = self.bundles.keys().map(String::as_str).collect();
        codes.sort_by_key(|c| (*c != "en", *c));
        codes
    }

    /// The words for `language`, falling back to English message by message.
    pub fn language(&self, language: &str) -> Words<'_> {
        let english = self.bundles.get("en");
        let primary = self.bundles.get(language).filter(|_| language != "en");
        let code = if primary.is_some() { language } else { "en" };
        Words { primary, english, code: code.to_string() }
    }
}

impl fmt::Debug for Messages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages").field("languages", &self.languages()).finish()
    }
}

impl PartialEq for Messages {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.bundles, &other.bundles) || self.languages() == other.languages()
    }
}

impl Eq for Messages {}

impl Default for Messages {
    fn default() -> Self {
        Self::builtin()
    }
}

fn unreachable_catalogue() -> Bundle {
    // The built-in catalogue is parsed by a test; should it ever fail, plans still read as
    // message ids rather than the daemon refusing to start.
    let mut b = FluentBundle::new_concurrent(vec![LanguageIdentifier::default()]);
    b.set_use_isolating(false);
    b
}

/// A catalogue's text parsed, or the line of its first error.
fn resource(text: &str) -> Result<FluentResource, String> {
    FluentResource::try_new(text.to_string()).map_err(|(_, errors)| {
        let first = errors.first().map(|e| {
            let line = text[..e.pos.start.min(text.len())].lines().count().max(1);
            format!("line {line}: {}", e.kind)
        });
        format!("not valid Fluent: {}", first.unwrap_or_default())
    })
}

fn bundle(code: &str, text: &str) -> Result<Bundle, String> {
    let resource = resource(text)?;
    let lang: LanguageIdentifier =
        code.parse().map_err(|_| format!("`{code}` is not a language code"))?;
    let mut b = FluentBundle::new_concurrent(vec![lang]);
    // Plain text goes into JSON and onto paper: no Unicode isolation marks around values.
    b.set_use_isolating(false);
    b.add_resource(resource).map_err(|errors| format!("duplicate messages: {errors:?}"))?;
    Ok(b)
}

/// One language's words.
pub struct Words<'a> {
    primary: Option<&'a Bundle>,
    english: Option<&'a Bundle>,
    code: String,
}

impl fmt::Debug for Words<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Words").field("language", &self.code).finish()
    }
}

/// A message's arguments: name and value.
pub type Args<'a> = &'a [(&'a str, Arg)];

/// One argument's value.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Text.
    Text(String),
    /// A count (selects plural forms).
    Count(u64),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_string())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::Text(value.clone())
    }
}

impl From<u64> for Arg {
    fn from(value: u64) -> Self {
        Arg::Count(value)
    }
}

impl Words<'_> {
    /// The language the words are in (the case's, or `en` when there is no catalogue for it).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Message `id` with `args`; the English one when this language lacks it; the id itself
    /// when neither has it (a test keeps that from happening with the built-in catalogue).
    pub fn get(&self, id: &str, args: Args<'_>) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Text(text) => fluent_args.set(*name, FluentValue::from(text.as_str())),
                Arg::Count(n) => fluent_args.set(*name, FluentValue::from(*n)),
            }
        }
        for bundle in [self.primary, self.english].into_iter().flatten() {
            let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            return text.into_owned();
        }
        id.to_string()
    }

    /// A message without arguments.
    pub fn plain(&self, id: &str) -> String {
        self.get(id, &[])
    }

    /// Whether this language (not the English fallback) has message `id`.
    pub fn has_own(&self, id: &str) -> bool {
        self.primary.is_some_and(|b| b.has_message(id))
    }

    /// "Tuesday 8 December" (with the year when it is not `today`'s year).
    pub fn date(&self, date: NaiveDate, today: NaiveDate) -> String {
        let weekday =
            self.plain(&format!("weekday-{}", date.weekday().to_string().to_ascii_lowercase()));
        let month = self.plain(&format!("month-{}", date.month()));
        let day = date.day().to_string();
        if date.year() == today.year() {
            self.get(
                "date",
                &[("weekday", weekday.into()), ("day", day.into()), ("month", month.into())],
            )
        } else {
            self.get(
                "date-with-year",
                &[
                    ("weekday", weekday.into()),
                    ("day", day.into()),
                    ("month", month.into()),
                    ("year", date.year().to_string().into()),
                ],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_parses_and_formats_without_isolation_marks() {
        let messages = Messages::builtin();
        let en = messages.language("en");
        let text = en.get("step-late", &[("by", "by Tuesday 8 December".into())]);
        assert_eq!(
            text,
            "That is later than this can wait: it should be sorted by Tuesday 8 December."
        );
        assert!(!text.contains('\u{2068}'));
        assert_eq!(
            en.date(
                NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
            ),
            "Tuesday 8 December"
        );
    }

    #[test]
    fn a_second_catalogue_is_picked_up_and_falls_back_to_english_per_message() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cy.ftl"),
            "weekday-tue = Dydd Mawrth\nmonth-12 = Rhagfyr\n",
        )
        .unwrap();
        let messages = Messages::load_dir(dir.path()).unwrap();
        assert_eq!(messages.languages(), vec!["en", "cy"]);
        let cy = messages.language("cy");
        assert_eq!(cy.code(), "cy");
        let day = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        assert_eq!(cy.date(day, day), "Dydd Mawrth 8 Rhagfyr");
        // Not translated: English.
        assert_eq!(cy.plain("need-food"), "food");
        // No catalogue for Polish: English throughout.
        assert_eq!(messages.language("pl").code(), "en");
    }

    #[test]
    fn a_broken_catalogue_is_refused_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cy.ftl"), "ok = fine\nbroken = { $unclosed\n").unwrap();
        let err = Messages::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cy.ftl") && err.contains("line 2"), "{err}");
        std::fs::remove_file(dir.path().join("cy.ftl")).unwrap();
        std::fs::write(dir.path().join("welsh.ftl"), "a = b\n").unwrap();
        let err = Messages::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("welsh.ftl") && err.contains("ISO 639-1"), "{err}");
    }
}
