//! core::Error -> napi::Error: the message names the output and field; the code is stable.

/// Converts a core error into a JS error whose `code` is the variant's code.
pub fn to_napi(err: acme_core::Error) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("[{}] {err}", err.code()),
    )
}

/// Turns a panic payload into a core error so that it never unwinds into Node.
pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> acme_core::Error {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    acme_core::Error::Internal(msg)
}
