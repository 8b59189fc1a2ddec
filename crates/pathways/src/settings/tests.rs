//! The configuration is read strictly and errors name the file or variable, field and problem.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use pathways_orchestrator::{BreakerPolicy, LeadRule, OrchestratorSettings};

use super::*;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
[storage]
url = "sqlite://data/pathways.db"
[orchestrator]
plan_deadline_ms = 2000
partner_timeout_ms = 1500
[plugins]
dir = "target/release"
[[partners]]
id = "north-kensington-foodbank"
plugin = "foodbank"
areas = ["E09000020"]
[partners.settings]
base_url = "http://127.0.0.1:9101"
maxResults = 3
"#;

fn load(toml: &str, env: &[(&str, &str)]) -> (Result<Settings, SettingsError>, String) {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    let env: HashMap<String, String> =
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let name = file.path().display().to_string();
    (Settings::load_with_env(file.path(), env), name)
}

#[test]
fn reads_the_contract_example_and_keeps_plugin_setting_keys_as_written() {
    let settings = load(GOOD, &[]).0.unwrap();
    assert_eq!(settings.partners.len(), 1);
    let partner = &settings.partners[0];
    assert!(partner.enabled);
    assert_eq!(partner.settings["base_url"], "http://127.0.0.1:9101");
    assert_eq!(partner.settings["maxResults"], 3, "keys reach the plugin unchanged");
    assert_eq!(settings.orchestrator.to_settings().plan_deadline, Duration::from_millis(2000));
}

#[test]
fn environment_overrides_the_file() {
    let settings = load(GOOD, &[("PATHWAYS__ORCHESTRATOR__PLAN_DEADLINE_MS", "3500")]).0.unwrap();
    assert_eq!(settings.orchestrator.plan_deadline_ms, 3500);
}

#[test]
fn unknown_key_names_the_file_and_the_key() {
    let (err, file) = load(&GOOD.replace("plan_deadline_ms", "plan_deadline"), &[]);
    let err = err.unwrap_err().to_string();
    assert!(err.starts_with(&file), "{err}");
    assert!(err.contains("unknown field `plan_deadline`"), "{err}");
    assert!(err.contains("orchestrator"), "{err}");
}

#[test]
fn bad_environment_value_names_the_variable() {
    let err = load(GOOD, &[("PATHWAYS__ORCHESTRATOR__PARTNER_TIMEOUT_MS", "soon")]).0.unwrap_err();
    assert_eq!(err.source_name, "environment variable PATHWAYS__ORCHESTRATOR__PARTNER_TIMEOUT_MS");
    assert_eq!(err.field, "orchestrator.partner_timeout_ms");
}

#[test]
fn zero_timeout_is_refused() {
    let err = load(&GOOD.replace("partner_timeout_ms = 1500", "partner_timeout_ms = 0"), &[])
        .0
        .unwrap_err();
    assert_eq!(err.field, "orchestrator.partner_timeout_ms");
    assert!(err.problem.contains("more than 0"), "{err}");
}

#[test]
fn bad_area_code_names_the_partner_entry() {
    let err = load(&GOOD.replace(r#"["E09000020"]"#, r#"["E09000020", "Kensington"]"#), &[])
        .0
        .unwrap_err();
    assert_eq!(err.field, "partners[0].areas[1]");
    assert!(err.problem.contains("`Kensington` is not an ONS local authority code"), "{err}");
}

#[test]
fn duplicate_partner_ids_are_refused() {
    let second = "\n[[partners]]\nid = \"north-kensington-foodbank\"\nplugin = \"foodbank\"\n";
    let err = load(&format!("{GOOD}{second}"), &[]).0.unwrap_err();
    assert_eq!(err.field, "partners[1].id");
    assert!(err.problem.contains("already the id of partners[0]"), "{err}");
}

#[test]
fn missing_file_says_how_to_point_at_one() {
    let err = Settings::load_with_env(Path::new("/nonexistent/pathways.toml"), HashMap::new())
        .unwrap_err();
    assert_eq!(err.source_name, "/nonexistent/pathways.toml");
    assert!(err.problem.contains("--config"), "{err}");
}

#[test]
fn toml_syntax_error_names_the_file() {
    let (err, file) = load("[server\nlisten = 1", &[]);
    let err = err.unwrap_err().to_string();
    assert!(err.starts_with(&file), "{err}");
}

#[test]
fn resilience_keys_have_defaults_and_can_be_set() {
    let defaults = load(GOOD, &[]).0.unwrap().orchestrator.to_settings();
    assert_eq!(
        defaults,
        OrchestratorSettings {
            plan_deadline: Duration::from_millis(2000),
            partner_timeout: Duration::from_millis(1500),
            ..OrchestratorSettings::default()
        }
    );
    assert_eq!(defaults.partner_concurrency, 8);
    assert_eq!(defaults.breaker, BreakerPolicy { failures: 5, cooldown: Duration::from_secs(30) });

    let set = GOOD.replace(
        "partner_timeout_ms = 1500",
        "partner_timeout_ms = 1500\npartner_concurrency = 3\nbreaker_failures = 2\nbreaker_cooldown_ms = 500",
    );
    let settings = load(&set, &[("PATHWAYS__ORCHESTRATOR__PARTNER_CONCURRENCY", "4")]).0.unwrap();
    let o = settings.orchestrator.to_settings();
    assert_eq!(o.partner_concurrency, 4, "the environment wins");
    assert_eq!(o.breaker, BreakerPolicy { failures: 2, cooldown: Duration::from_millis(500) });
}

#[test]
fn zero_concurrency_and_zero_cooldown_are_refused_with_the_key() {
    let zero = GOOD
        .replace("partner_timeout_ms = 1500", "partner_timeout_ms = 1500\npartner_concurrency = 0");
    let err = load(&zero, &[]).0.unwrap_err();
    assert_eq!(err.field, "orchestrator.partner_concurrency");
    assert!(err.problem.contains("between 1 and"), "{err}");

    let cooldown = GOOD
        .replace("partner_timeout_ms = 1500", "partner_timeout_ms = 1500\nbreaker_cooldown_ms = 0");
    let err = load(&cooldown, &[]).0.unwrap_err();
    assert_eq!(err.field, "orchestrator.breaker_cooldown_ms");
    let off = cooldown
        .replace("breaker_cooldown_ms = 0", "breaker_cooldown_ms = 0\nbreaker_failures = 0");
    assert!(load(&off, &[]).0.is_ok(), "a cool-down does not matter with the breaker off");
}

#[test]
fn lead_rules_are_read_in_order_and_default_to_the_domestic_abuse_rule() {
    use pathways_core::NeedCode;
    use pathways_orchestrator::LeadChoice;
    let settings = load(GOOD, &[]).0.unwrap();
    assert_eq!(settings.orchestrator.lead_rules, LeadRule::defaults());

    let rules = GOOD.replace(
        "[plugins]",
        "[[orchestrator.lead_rules]]\nwhen_need = \"safeguarding\"\nlead = \"partner_serving_need\"\n\
         [[orchestrator.lead_rules]]\nwhen_need = \"domestic_abuse\"\nlead = \"referrer\"\nbecause = \"they know you\"\n[plugins]",
    );
    let read = load(&rules, &[]).0.unwrap().orchestrator.lead_rules;
    assert_eq!(read.len(), 2);
    assert_eq!(
        (read[0].when_need, read[0].lead),
        (Some(NeedCode::Safeguarding), LeadChoice::PartnerServingNeed)
    );
    assert_eq!(read[1].because.as_deref(), Some("they know you"));

    let (err, file) = load(&rules.replace("\"referrer\"", "\"the-council\""), &[]);
    let err = err.unwrap_err();
    assert!(err.to_string().starts_with(&file), "{err}");
    assert!(err.field.contains("lead_rules") && err.problem.contains("the-council"), "{err}");

    let err = load(&rules.replace("when_need", "when"), &[]).0.unwrap_err();
    assert!(err.problem.contains("unknown field `when`"), "{err}");

    // A statutory lead names who leads by law; a rule that cannot apply is refused at load.
    let statutory = GOOD.replace(
        "[plugins]",
        "[[orchestrator.lead_rules]]\nwhen_need = \"safeguarding\"\nlead = \"statutory\"\n[plugins]",
    );
    let err = load(&statutory, &[]).0.unwrap_err();
    assert_eq!(err.field, "orchestrator.lead_rules[0]", "{err}");
    assert!(err.problem.contains("needs `partner`"), "{err}");
    let named =
        statutory.replace("lead = \"statutory\"", "lead = \"statutory\"\npartner = \"asc\"");
    let read = load(&named, &[]).0.unwrap().orchestrator.lead_rules;
    assert_eq!((read[0].lead, read[0].partner.as_deref()), (LeadChoice::Statutory, Some("asc")));
}

const KEY_HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn api_keys_and_server_limits_are_read_and_checked() {
    let toml = format!(
        "{GOOD}\n[[api_keys]]\nid = \"cakc-1\"\norganisation = \"citizens-advice-kc\"\nrole = \"pathfinder\"\nhash = \"{KEY_HASH}\"\n"
    );
    let settings = load(&toml, &[("PATHWAYS__SERVER__MAX_BODY_BYTES", "1024")]).0.unwrap();
    assert_eq!(settings.api_keys[0].role, pathways_daemon::Role::Pathfinder);
    assert_eq!(settings.key_ring().unwrap().len(), 1);
    assert_eq!(settings.server.limits().max_body_bytes, 1024);
    assert_eq!(settings.server.limits().request_timeout, Duration::from_secs(30));
}

#[test]
fn a_bad_api_key_entry_names_the_entry_and_the_problem() {
    let entry = |role: &str, hash: &str| {
        format!(
            "{GOOD}\n[[api_keys]]\nid = \"k\"\norganisation = \"org\"\nrole = \"{role}\"\nhash = \"{hash}\"\n"
        )
    };
    let (err, _) = load(&entry("pathfinder", "plaintext-secret"), &[]);
    let err = err.unwrap_err().to_string();
    assert!(err.contains("api_keys[0]") && err.contains("sha256:"), "{err}");
    let (err, _) = load(&entry("superuser", KEY_HASH), &[]);
    let err = err.unwrap_err().to_string();
    assert!(err.contains("api_keys[0].role") && err.contains("superuser"), "{err}");
    let twice = format!(
        "{}[[api_keys]]\nid = \"k2\"\norganisation = \"org\"\nrole = \"admin\"\nhash = \"{KEY_HASH}\"\n",
        entry("pathfinder", KEY_HASH)
    );
    let err = load(&twice, &[]).0.unwrap_err().to_string();
    assert!(err.contains("api_keys[1]") && err.contains("api_keys[0]"), "{err}");
    let (err, _) = load(&format!("{GOOD}\n"), &[("PATHWAYS__SERVER__REQUEST_TIMEOUT_MS", "0")]);
    assert!(err.unwrap_err().to_string().contains("server.request_timeout_ms"));
}

#[test]
fn the_commit_batch_defaults_to_group_commit_and_is_checked() {
    let settings = load(GOOD, &[]).0.unwrap();
    assert_eq!(settings.storage.commit_batch, 128);
    let settings = load(GOOD, &[("PATHWAYS__STORAGE__COMMIT_BATCH", "1")]).0.unwrap();
    assert_eq!(settings.storage.commit_batch, 1);
    let err = load(GOOD, &[("PATHWAYS__STORAGE__COMMIT_BATCH", "0")]).0.unwrap_err();
    assert_eq!(err.field, "storage.commit_batch");
    assert!(err.problem.contains("1 to 10000"), "{err}");
}

#[test]
fn retention_defaults_to_24_months_and_refuses_a_period_out_of_range() {
    let (settings, _) = load(GOOD, &[]);
    let retention = settings.unwrap().retention;
    assert_eq!((retention.enabled, retention.keep_months), (true, 24));
    for (value, field) in [("0", "keep_months"), ("1201", "keep_months")] {
        let text = format!("{GOOD}\n[retention]\n{field} = {value}\n");
        let (err, name) = load(&text, &[]);
        let err = err.unwrap_err();
        assert_eq!(
            (err.source_name.as_str(), err.field.as_str()),
            (name.as_str(), "retention.keep_months")
        );
        assert!(err.problem.contains("1 to 1200"), "{err}");
    }
    let (err, _) = load(GOOD, &[("PATHWAYS__RETENTION__BATCH", "0")]);
    let err = err.unwrap_err();
    assert_eq!(err.source_name, "environment variable PATHWAYS__RETENTION__BATCH", "{err}");
}

#[test]
fn a_partner_is_a_domestic_abuse_service_only_when_the_entry_says_so() {
    let (settings, _) = load(GOOD, &[]);
    assert!(!settings.unwrap().partners[0].domestic_abuse_service, "not by default");
    let text = GOOD
        .replace("plugin = \"foodbank\"", "plugin = \"foodbank\"\ndomestic_abuse_service = true");
    let (settings, _) = load(&text, &[]);
    assert!(settings.unwrap().partners[0].domestic_abuse_service);
}

#[test]
fn data_keys_come_from_a_file_or_a_variable_never_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k");
    std::fs::write(&file, pathways_store::DataKeys::generate_entry()).unwrap();
    let text = GOOD.replace(
        "url = \"sqlite://data/pathways.db\"",
        &format!("url = \"sqlite://data/pathways.db\"\nkey_file = \"{}\"", file.display()),
    );
    let (settings, name) = load(&text, &[]);
    let keys = settings.unwrap().data_keys(std::path::Path::new(&name)).unwrap();
    assert!(keys.current_id().starts_with("dk-"));
    let both = text.replace("key_file", "key_env = \"X\"\nkey_file");
    let (err, _) = load(&both, &[]);
    assert_eq!(err.unwrap_err().field, "storage.key_env");
}

const INBOX: &str = r#"
[[partners]]
id = "ludlow-befriending"
name = "Ludlow Good Neighbours"
kind = "inbox"
areas = ["E06000051"]
[partners.settings]
needs = ["social_isolation"]
shares = ["name", "phone", "postcode"]
[[partners.settings.services]]
id = "befriending"
name = "Telephone befriending"
"#;

#[test]
fn an_inbox_partner_has_a_kind_instead_of_a_plugin_and_exactly_one_of_them() {
    let settings = load(&format!("{GOOD}{INBOX}"), &[]).0.unwrap();
    assert_eq!(settings.partners[1].kind, Some(BuiltinKind::Inbox));
    assert_eq!(
        (settings.partners[1].plugin.as_deref(), settings.partners[1].connector()),
        (None, "inbox")
    );

    let both = INBOX.replace("kind = \"inbox\"", "kind = \"inbox\"\nplugin = \"foodbank\"");
    let err = load(&format!("{GOOD}{both}"), &[]).0.unwrap_err();
    assert_eq!(err.field, "partners[1]", "{err}");
    assert!(err.problem.contains("exactly one of `plugin`"), "{err}");
    let neither = INBOX.replace("kind = \"inbox\"\n", "");
    assert_eq!(load(&format!("{GOOD}{neither}"), &[]).0.unwrap_err().field, "partners[1]");
    let unknown = INBOX.replace("kind = \"inbox\"", "kind = \"mailbox\"");
    let err = load(&format!("{GOOD}{unknown}"), &[]).0.unwrap_err();
    assert_eq!(err.field, "partners[1].kind", "{err}");
    let callback =
        INBOX.replace("kind = \"inbox\"", "kind = \"inbox\"\nwebhook_secret_env = \"X\"");
    let err = load(&format!("{GOOD}{callback}"), &[]).0.unwrap_err();
    assert_eq!(err.field, "partners[1].webhook_secret_env", "{err}");
}

#[test]
fn the_email_section_is_strict_and_sends_plain_text_only_on_this_machine() {
    let email = "\n[email]\nsmtp_host = \"smtp.council.example\"\nfrom = \"Pathways <pathways@council.example>\"\n";
    let settings = load(&format!("{GOOD}{email}"), &[]).0.unwrap();
    let section = settings.email.unwrap();
    assert_eq!((section.smtp_port, section.tls), (587, pathways_inbox::TlsMode::Starttls));
    let plain = format!("{GOOD}{email}tls = \"off\"\n");
    assert_eq!(load(&plain, &[]).0.unwrap_err().field, "email.tls");
    let local = plain.replace("smtp.council.example", "127.0.0.1");
    assert!(load(&local, &[]).0.is_ok());
    let half = format!("{GOOD}{email}username_env = \"SMTP_USER\"\n");
    assert_eq!(load(&half, &[]).0.unwrap_err().field, "email.password_env");
    let typo = format!("{GOOD}{email}smtp_prot = 25\n");
    assert_eq!(load(&typo, &[]).0.unwrap_err().field, "email.smtp_prot");
    let modes = format!("{GOOD}{email}tls = \"ssl\"\n");
    let err = load(&modes, &[]).0.unwrap_err();
    assert!(err.field == "email.tls" && err.problem.contains("ssl"), "{err}");
}

#[test]
fn isolation_defaults_to_in_process_a_partner_overrides_it_and_a_missing_host_is_refused() {
    let settings = load(GOOD, &[]).0.unwrap();
    assert_eq!(settings.partners[0].isolation(&settings.plugins), Isolation::InProcess);

    let isolated =
        GOOD.replace("plugin = \"foodbank\"", "plugin = \"foodbank\"\nisolation = \"process\"");
    let settings = load(&isolated, &[]).0.unwrap();
    assert_eq!(settings.partners[0].isolation(&settings.plugins), Isolation::Process);
    let all = GOOD
        .replace("dir = \"target/release\"", "dir = \"target/release\"\nisolation = \"process\"");
    let settings = load(&all, &[]).0.unwrap();
    assert_eq!(settings.partners[0].isolation(&settings.plugins), Isolation::Process);

    let (result, file) =
        load(&isolated, &[("PATHWAYS__PLUGINS__HOST_PROGRAM", "/nonexistent/pathways")]);
    let err = result.unwrap_err();
    assert_eq!(err.field, "plugins.host_program", "{err}");
    assert!(
        err.problem.contains("/nonexistent/pathways") && err.problem.contains("not a file"),
        "{err}"
    );
    assert_ne!(err.source_name, file, "the variable that set it is named");
    // Only a partner that runs in a process needs the host program.
    assert!(load(GOOD, &[("PATHWAYS__PLUGINS__HOST_PROGRAM", "/nonexistent/pathways")]).0.is_ok());

    let typo =
        GOOD.replace("plugin = \"foodbank\"", "plugin = \"foodbank\"\nisolation = \"separate\"");
    assert_eq!(load(&typo, &[]).0.unwrap_err().field, "partners[0].isolation");
    let inbox = INBOX.replace("kind = \"inbox\"", "kind = \"inbox\"\nisolation = \"process\"");
    let err = load(&format!("{GOOD}{inbox}"), &[]).0.unwrap_err();
    assert_eq!(err.field, "partners[1].isolation", "{err}");

    // How plugin hosts are run: a hung host's limit and a heap cap, each checked.
    let settings = load(GOOD, &[]).0.unwrap();
    let options = settings.plugins.host_options().unwrap();
    assert_eq!((options.hung_after.as_millis(), options.memory_limit), (10_000, None));
    let tuned = load(
        GOOD,
        &[
            ("PATHWAYS__PLUGINS__HUNG_AFTER_MS", "2500"),
            ("PATHWAYS__PLUGINS__MEMORY_LIMIT_MB", "256"),
        ],
    );
    let options = tuned.0.unwrap().plugins.host_options().unwrap();
    assert_eq!(options.hung_after.as_millis(), 2500);
    assert_eq!(options.memory_limit, Some(256 * 1024 * 1024));
    for (variable, value, field) in [
        ("PATHWAYS__PLUGINS__HUNG_AFTER_MS", "10", "plugins.hung_after_ms"),
        ("PATHWAYS__PLUGINS__HUNG_AFTER_MS", "600001", "plugins.hung_after_ms"),
        ("PATHWAYS__PLUGINS__MEMORY_LIMIT_MB", "8", "plugins.memory_limit_mb"),
    ] {
        let err = load(GOOD, &[(variable, value)]).0.unwrap_err();
        assert_eq!(err.field, field, "{err}");
        assert!(err.problem.contains(value), "{err}");
    }
}
