//! Finding a plugin library, loading it, and checking its handshake.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libloading::Library;
use pathways_abi::{
    Bytes, EntryFn, HostApi, PluginVtable, VtableHeader, ABI_VERSION, ENTRY_SYMBOL, STATUS_OK,
    STATUS_PANIC,
};
use pathways_core::Manifest;

use crate::error::LoadError;
use crate::log::{host_log, max_level, LogSource};
use crate::partner::DylibPartner;
use crate::{HOST_SDK_VERSION, HOST_TARGET};

/// Finds the library for `plugin` in `dir`: `lib<plugin>.so`, then `libpathways_plugin_<plugin>.so`
/// (the file cargo builds for a `pathways-plugin-<plugin>` package). A `plugin` containing a
/// path separator or ending in the platform's library suffix is taken as a path.
pub fn resolve_library(dirs: &[PathBuf], plugin: &str) -> Result<PathBuf, LoadError> {
    let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let tried: Vec<PathBuf> =
        if plugin.contains(std::path::MAIN_SEPARATOR) || plugin.ends_with(suffix) {
            vec![PathBuf::from(plugin)]
        } else {
            let stem = plugin.replace('-', "_");
            dirs.iter()
                .flat_map(|dir| {
                    [
                        dir.join(format!("{prefix}{stem}{suffix}")),
                        dir.join(format!("{prefix}pathways_plugin_{stem}{suffix}")),
                    ]
                })
                .collect()
        };
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| LoadError::NotFound { plugin: plugin.to_string(), tried })
}

/// A loaded, checked plugin library, ready to create partner instances.
#[derive(Debug, Clone)]
pub struct PluginLibrary {
    path: PathBuf,
    vtable: &'static PluginVtable,
    manifest: Manifest,
    log_source: &'static LogSource,
}

/// How long `instantiate` waits for an instance's own manifest.
const INSTANCE_MANIFEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl PluginLibrary {
    /// Loads the library at `path` and checks its handshake; nothing but the entry point runs.
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let path = path.to_path_buf();
        // SAFETY: loading a library runs its initialisers. We load only files the operator
        // configured as plugins; the handshake below then refuses anything that is not one.
        let library = unsafe { Library::new(&path) }
            .map_err(|e| LoadError::NotALibrary { path: path.clone(), reason: e.to_string() })?;
        // Never unloaded (see the crate docs): leak it, so the vtable below is 'static.
        let library: &'static Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is fixed by the ABI for this symbol name.
        let entry = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL) }
            .map_err(|_| LoadError::NoEntrySymbol { path: path.clone() })?;
        // SAFETY: the entry point takes nothing and returns a pointer to a 'static vtable.
        let vtable_ptr = unsafe { entry() };
        if vtable_ptr.is_null() {
            return Err(LoadError::Handshake {
                path,
                reason:
                    "its entry point returned no vtable (the plugin failed building its manifest)"
                        .into(),
            });
        }
        // SAFETY: every ABI version starts with this header, so it can always be read.
        let header = unsafe { *vtable_ptr.cast::<VtableHeader>() };
        if header.abi_version != ABI_VERSION {
            return Err(LoadError::AbiMismatch {
                path,
                found: header.abi_version,
                expected: ABI_VERSION,
            });
        }
        if header.struct_size < std::mem::size_of::<PluginVtable>() {
            return Err(LoadError::Handshake {
                path,
                reason: format!(
                    "its vtable is {} bytes, smaller than ABI v{ABI_VERSION}'s {}",
                    header.struct_size,
                    std::mem::size_of::<PluginVtable>()
                ),
            });
        }
        // SAFETY: the header says this is a complete v1 vtable, and it lives as long as the
        // (leaked) library.
        let vtable: &'static PluginVtable = unsafe { &*vtable_ptr };
        let target = text(vtable.target, &path, "target")?;
        if target != HOST_TARGET {
            return Err(LoadError::TargetMismatch {
                path,
                found: target,
                expected: HOST_TARGET.into(),
            });
        }
        let sdk = text(vtable.sdk_version, &path, "sdk_version")?;
        if !semver_compatible(&sdk, HOST_SDK_VERSION) {
            return Err(LoadError::SdkMismatch {
                path,
                found: sdk,
                expected: HOST_SDK_VERSION.into(),
            });
        }
        // SAFETY: the manifest bytes live in the plugin's static vtable holder.
        let manifest: Manifest = serde_json::from_slice(unsafe { vtable.manifest.as_slice() })
            .map_err(|e| LoadError::Handshake {
                path: path.clone(),
                reason: format!("its manifest cannot be read: {e}"),
            })?;
        if manifest.plugin.trim().is_empty() {
            return Err(LoadError::Handshake {
                path,
                reason: "its manifest has an empty `plugin` name".into(),
            });
        }
        let log_source: &'static LogSource =
            Box::leak(Box::new(LogSource { plugin: manifest.plugin.clone() }));
        Ok(Self { path, vtable, manifest, log_source })
    }

    /// The plugin's manifest, as its library declares it.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a partner instance with `settings` (the partner's `[partners.settings]` table as
    /// JSON). The plugin validates them; a refusal names the partner and the key.
    pub fn instantiate(
        &self,
        partner_id: &str,
        settings: &serde_json::Value,
    ) -> Result<DylibPartner, LoadError> {
        let settings = match settings {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            other => other.clone(),
        };
        let settings_json = serde_json::to_vec(&settings).unwrap_or_else(|_| b"{}".to_vec());
        let host = HostApi {
            struct_size: std::mem::size_of::<HostApi>(),
            abi_version: ABI_VERSION,
            max_log_level: max_level(),
            ctx: (self.log_source as *const LogSource).cast::<c_void>(),
            log: host_log,
        };
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut error: Vec<u8> = Vec::new();
        // SAFETY: all pointers are valid for the duration of the call; `collect_bytes` matches
        // the context we pass.
        let status = unsafe {
            (self.vtable.init)(
                &host,
                Bytes::from_slice(&settings_json),
                &mut instance,
                collect_bytes,
                (&mut error as *mut Vec<u8>).cast::<c_void>(),
            )
        };
        let message = String::from_utf8_lossy(&error).into_owned();
        let (partner_id, plugin) = (partner_id.to_string(), self.manifest.plugin.clone());
        match status {
            STATUS_OK if !instance.is_null() => {
                let mut partner = DylibPartner::new(
                    partner_id,
                    self.vtable,
                    instance,
                    self.manifest.clone(),
                    Arc::from(self.path.as_path()),
                );
                partner.adopt_instance_requirements(INSTANCE_MANIFEST_TIMEOUT);
                Ok(partner)
            }
            STATUS_PANIC => Err(LoadError::InitPanicked { partner_id, plugin, message }),
            STATUS_OK => Err(LoadError::Handshake {
                path: self.path.clone(),
                reason: "init succeeded but returned no instance".into(),
            }),
            _ => Err(LoadError::Settings { partner_id, plugin, message }),
        }
    }
}

/// Collects the bytes a plugin reports synchronously (init errors).
unsafe extern "C" fn collect_bytes(ctx: *mut c_void, data: Bytes) {
    // SAFETY: ctx is the `Vec<u8>` `instantiate` passed; the bytes are lent for this call.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        (*ctx.cast::<Vec<u8>>()).extend_from_slice(data.as_slice());
    }));
}

fn text(bytes: Bytes, path: &Path, field: &str) -> Result<String, LoadError> {
    // SAFETY: the vtable's strings live in the plugin's static data.
    std::str::from_utf8(unsafe { bytes.as_slice() }).map(str::to_string).map_err(|_| {
        LoadError::Handshake {
            path: path.to_path_buf(),
            reason: format!("its `{field}` is not UTF-8"),
        }
    })
}

/// Cargo's rule: same major version, and for 0.x the same minor.
fn semver_compatible(plugin: &str, host: &str) -> bool {
    fn parts(v: &str) -> Option<(u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut it = core.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }
    match (parts(plugin), parts(host)) {
        (Some((pm, pn)), Some((hm, hn))) => pm == hm && (hm > 0 || pn == hn),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_versions_follow_cargo_compatibility() {
        assert!(semver_compatible("0.1.3", "0.1.0"));
        assert!(!semver_compatible("0.2.0", "0.1.0"));
        assert!(semver_compatible("1.4.0", "1.0.2"));
        assert!(!semver_compatible("2.0.0", "1.9.0"));
        assert!(!semver_compatible("banana", "0.1.0"));
    }

    #[test]
    fn missing_plugin_lists_every_path_tried() {
        let dirs = [PathBuf::from("/nowhere"), PathBuf::from("/elsewhere")];
        let err = resolve_library(&dirs, "foodbank").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nowhere/libfoodbank.so"), "{text}");
        assert!(text.contains("/nowhere/libpathways_plugin_foodbank.so"), "{text}");
        assert!(text.contains("/elsewhere/libpathways_plugin_foodbank.so"), "every folder: {text}");
    }
}
