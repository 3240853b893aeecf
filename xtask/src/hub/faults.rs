//! Fault injection, in test mode only: the failures a real Hub has, on demand.
//!
//! `POST /_local/faults` adds rules (a JSON array, or one object);
//! `GET /_local/faults` lists those left; `DELETE /_local/faults` clears them:
//!
//! ```json
//! [{"method": "POST", "path_contains": "/commit/", "status": 429, "retry_after": "1", "times": 2},
//!  {"path_contains": "/lfs-upload/", "action": "drop", "times": 1},
//!  {"path_contains": "/commit/", "user": "bob", "status": 500}]
//! ```
//!
//! A rule matches a request whose method equals `method` (any method when
//! absent; never a CORS preflight), whose path and query contain
//! `path_contains`, and, when the rule has `"user": "name"`, whose bearer
//! token belongs to that user (so one contributor can be sent a storm of
//! 500s or 429s while the others go on; a request without a token, such as an
//! LFS upload to its ticket URL, never matches a user's rule). The first
//! matching rule is used and its `times` counts
//! down (no `times`: forever). A `status` rule answers that status with
//! `{"error": …}` (`error` and `error_code` may set the message and
//! `X-Error-Code`; a 401 says "Invalid credentials in Authorization header"
//! as the Hub does) and `Retry-After` when `retry_after` is given. A `"drop"`
//! rule answers as a proxy does when the server behind it went away: a 503
//! without the Hub's CORS headers, which a page's fetch sees as a network
//! failure, exactly as a cut connection.

use super::http::{HubError, Reply, Req};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default)]
    pub path_contains: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// `"drop"`, or absent for a status answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Only requests whose bearer token is this user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// What to do with a request a rule matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    Reply(Reply),
    Drop,
}

/// Reads the rules of a `POST /_local/faults` body.
pub fn parse(body: &[u8]) -> Result<Vec<Fault>, HubError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|error| HubError::bad_request(format!("faults: {error}")))?;
    let list = if value.is_array() { value } else { serde_json::Value::Array(vec![value]) };
    let faults: Vec<Fault> = serde_json::from_value(list).map_err(|error| HubError::bad_request(format!("faults: {error}")))?;
    for fault in &faults {
        match (fault.action.as_deref(), fault.status) {
            (Some("drop"), _) | (None, Some(400..=599)) => {}
            _ => return Err(HubError::bad_request(format!("a fault needs \"status\" (400-599) or \"action\": \"drop\": {fault:?}"))),
        }
    }
    Ok(faults)
}

/// Whether some rule is for one user only (then the caller looks up whose token a request has).
pub fn any_for_a_user(faults: &[Fault]) -> bool {
    faults.iter().any(|fault| fault.user.is_some())
}

/// The first rule matching `req`, sent by `user` (the owner of its bearer
/// token, if known), counted down (and removed when used up).
pub fn take(faults: &mut Vec<Fault>, req: &Req, user: Option<&str>) -> Option<Injected> {
    if req.method == "OPTIONS" || req.url.starts_with("/_local/") {
        return None;
    }
    let index = faults.iter().position(|fault| {
        fault.method.as_ref().is_none_or(|method| method.eq_ignore_ascii_case(&req.method))
            && req.url.contains(&fault.path_contains)
            && fault.user.as_deref().is_none_or(|wanted| user == Some(wanted))
    })?;
    let fault = faults[index].clone();
    match faults[index].times {
        Some(1) | Some(0) => {
            faults.remove(index);
        }
        Some(n) => faults[index].times = Some(n - 1),
        None => {}
    }
    if fault.action.as_deref() == Some("drop") {
        return Some(Injected::Drop);
    }
    let status = fault.status.unwrap_or(500);
    let message = fault.error.clone().unwrap_or_else(|| match status {
        401 => "Invalid credentials in Authorization header".to_owned(),
        429 => "You have exceeded our rate limit. Please retry later.".to_owned(),
        _ => format!("Injected fault: {status}"),
    });
    let mut reply = HubError::new(status, None, message).reply();
    if let Some(code) = &fault.error_code {
        reply = reply.with_header("X-Error-Code", code);
    }
    if let Some(after) = &fault.retry_after {
        reply = reply.with_header("Retry-After", after);
    }
    Some(Injected::Reply(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, url: &str) -> Req {
        Req::new(method, url, vec![])
    }

    #[test]
    fn rules_match_by_method_and_path_and_count_down() {
        let mut faults = parse(br#"[{"method":"POST","path_contains":"/commit/","status":429,"retry_after":"1","times":2},
                                   {"path_contains":"/lfs-upload/","action":"drop","times":1}]"#)
        .unwrap();
        assert_eq!(take(&mut faults, &req("GET", "/api/datasets/a/b/commit/main"), None), None);
        assert_eq!(take(&mut faults, &req("OPTIONS", "/api/datasets/a/b/commit/main"), None), None);
        let Some(Injected::Reply(reply)) = take(&mut faults, &req("POST", "/api/datasets/a/b/commit/main"), None) else { panic!() };
        assert_eq!((reply.status, reply.header("Retry-After")), (429, Some("1")));
        assert_eq!(faults[0].times, Some(1));
        assert!(take(&mut faults, &req("POST", "/api/datasets/a/b/commit/main?create_pr=1"), None).is_some());
        assert_eq!(take(&mut faults, &req("POST", "/api/datasets/a/b/commit/main"), None), None);
        assert_eq!(take(&mut faults, &req("PUT", "/lfs-upload/abc?ticket=x"), None), Some(Injected::Drop));
        assert!(faults.is_empty());
    }

    #[test]
    fn a_rule_without_times_stays_and_401s_look_like_the_hubs() {
        let mut faults = parse(br#"{"path_contains":"/api/whoami-v2","status":401}"#).unwrap();
        for _ in 0..3 {
            let Some(Injected::Reply(reply)) = take(&mut faults, &req("GET", "/api/whoami-v2"), None) else { panic!() };
            assert_eq!(reply.header("X-Error-Message"), Some("Invalid credentials in Authorization header"));
        }
        assert_eq!(take(&mut faults, &req("POST", "/_local/faults"), None), None);
    }

    #[test]
    fn rules_need_a_status_or_a_drop() {
        assert!(parse(br#"[{"path_contains":"/x"}]"#).is_err());
        assert!(parse(br#"[{"path_contains":"/x","status":200}]"#).is_err());
        assert!(parse(br#"not json"#).is_err());
    }

    #[test]
    fn a_rule_for_a_user_matches_only_that_users_requests() {
        let mut faults = parse(br#"[{"path_contains":"/commit/","user":"bob","status":500,"times":2},
                                   {"path_contains":"/commit/","status":429,"retry_after":"2"}]"#)
        .unwrap();
        assert!(any_for_a_user(&faults));
        let commit = req("POST", "/api/datasets/c/d/commit/refs%2Fpr%2F1");
        let status = |injected: Option<Injected>| match injected {
            Some(Injected::Reply(reply)) => reply.status,
            other => panic!("{other:?}"),
        };
        // Alice (or no token at all) passes bob's rule by, and meets the next one.
        assert_eq!(status(take(&mut faults, &commit, Some("alice"))), 429);
        assert_eq!(status(take(&mut faults, &commit, None)), 429);
        assert_eq!(faults[0].times, Some(2));
        assert_eq!(status(take(&mut faults, &commit, Some("bob"))), 500);
        assert_eq!(status(take(&mut faults, &commit, Some("bob"))), 500);
        assert!(!any_for_a_user(&faults));
        assert_eq!(status(take(&mut faults, &commit, Some("bob"))), 429);
        // A user's name is matched exactly, and the rule lists back with its user.
        let mut faults = parse(br#"{"path_contains":"/api/","user":"bob","action":"drop"}"#).unwrap();
        assert_eq!(take(&mut faults, &req("GET", "/api/whoami-v2"), Some("bobby")), None);
        assert_eq!(take(&mut faults, &req("GET", "/api/whoami-v2"), Some("bob")), Some(Injected::Drop));
        assert_eq!(serde_json::to_value(&faults).unwrap()[0]["user"], "bob");
    }
}
