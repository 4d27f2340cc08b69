//! The caller's pointers: C strings and byte buffers in, C strings out. Every dereference of a pointer the C caller
//! passes happens here or in `handle`/`answer` accessors, each behind a null check.

use std::ffi::{CStr, CString, c_char};

use serde_json::Value;

use crate::error::Error;

/// Most bytes one callback answer may carry (a consent choice, a JWK list, a signature).
pub(crate) const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The string at `p`, which must not be null and must be UTF-8.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid and unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded to the caller's contract above.
    unsafe { opt_str_arg(p, name) }?.ok_or_else(|| Error::invalid(name, format!("{name} is null")))
}

/// The string at `p`, `None` for null; it must be UTF-8.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: not null, and the caller promises a NUL-terminated string valid for 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map(Some)
        .map_err(|_| Error::invalid(name, format!("{name} is not UTF-8")))
}

/// The `len` bytes at `p` (`len` 0 with a null `p` is an empty slice).
///
/// # Safety
/// `p` is null or points to `len` readable bytes valid for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::invalid(name, format!("{name} is null")))
        };
    }
    // SAFETY: not null, and the caller promises `len` readable bytes valid for 'a.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A string the caller owns and frees with `walletd_string_free` (an interior NUL, which JSON text never has,
/// would end the string early).
pub(crate) fn to_c(s: &str) -> *mut c_char {
    let bytes: Vec<u8> = s.bytes().take_while(|b| *b != 0).collect();
    CString::new(bytes)
        .map(CString::into_raw)
        .unwrap_or(std::ptr::null_mut())
}

/// A NUL-terminated copy of `s` for the duration of a callback.
pub(crate) fn temp_c(s: &str) -> CString {
    let bytes: Vec<u8> = s.bytes().take_while(|b| *b != 0).collect();
    CString::new(bytes).unwrap_or_default()
}

/// Checks an out-pointer for a returned string and sets it to null, so an error leaves it null.
///
/// # Safety
/// `out` is null or points to writable storage for one pointer.
pub(crate) unsafe fn out_arg(out: *mut *mut c_char, name: &str) -> Result<*mut *mut c_char, Error> {
    if out.is_null() {
        return Err(Error::invalid(name, format!("{name} is null")));
    }
    // SAFETY: not null, and the caller promises it is writable.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(out)
}

/// Hands `v` to the caller as JSON text through `out` (checked by [`out_arg`]).
///
/// # Safety
/// `out` passed [`out_arg`] in this call.
pub(crate) unsafe fn put_json(out: *mut *mut c_char, v: &Value) {
    // SAFETY: checked non-null and writable by out_arg.
    unsafe { out.write(to_c(&v.to_string())) };
}

/// Frees a string this library returned.
///
/// # Safety
/// `p` is null or a pointer returned by this library and not freed yet.
pub(crate) unsafe fn free(p: *mut c_char) {
    if !p.is_null() {
        // SAFETY: the caller promises `p` came from `CString::into_raw` here and is freed once.
        drop(unsafe { CString::from_raw(p) });
    }
}
