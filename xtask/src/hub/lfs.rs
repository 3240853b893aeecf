//! Git LFS uploads, the way the Hub does them (basic transfer only, no Xet).
//!
//! - `POST /datasets/{id}.git/info/lfs/objects/batch`
//!   (`application/vnd.git-lfs+json`, `{"operation": "upload", "transfers",
//!   "objects": [{"oid", "size"}], "hash_algo": "sha256", "ref"?}`) answers
//!   `{"transfer": "basic", "objects": [...]}`: an object already stored has
//!   no `actions`; a new one gets `actions.upload.href` — a one-time
//!   `/lfs-upload/{oid}?ticket=…` on this server, good for an hour, so the PUT
//!   needs no `Authorization` (as with the Hub's pre-signed URLs) — and
//!   `actions.verify.href`. Too big an object gets `error: {code: 422, message}`.
//!   Clients offering `xet` get `basic` and fall back (`@huggingface/hub`
//!   does; `huggingface_hub` needs `HF_HUB_DISABLE_XET=1` when `hf_xet` is installed).
//! - `PUT /lfs-upload/{oid}?ticket=…` stores the body if its sha256 and size
//!   are the announced ones (400 otherwise).
//! - `POST /datasets/{id}.git/info/lfs/objects/verify` (`{"oid", "size"}`): 200 if stored, 404 if not.

use super::http::{now, HubError, Reply, Req};
use super::repo::FILE_MAX;
use super::store::{self, random_string};
use super::Shared;
use serde_json::{json, Value};

/// How long an upload URL stays valid.
const TICKET_LIFETIME: u64 = 3600;

/// A pending upload: which object, how big, until when.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub oid: String,
    pub size: u64,
    pub expires_at: u64,
}

pub fn batch(hub: &Shared, req: &Req, base: &str, id: &str) -> Result<Reply, HubError> {
    let body = req.json()?;
    {
        let state = hub.state();
        let token = state.require_token(req.bearer())?;
        state.readable_repo(id, Some(&token))?;
        if !token.can_discuss() {
            return Err(HubError::forbidden("This token cannot upload (write-repos or write-discussions)"));
        }
    }
    if body["operation"].as_str() != Some("upload") {
        return Err(HubError::bad_request("only the upload operation is supported"));
    }
    let mut objects = Vec::new();
    let mut tickets = hub.tickets.lock().expect("no panics while holding the lock");
    tickets.retain(|_, ticket| ticket.expires_at > now());
    for object in body["objects"].as_array().ok_or_else(|| HubError::bad_request("\"objects\" must be a list"))? {
        let oid = object["oid"].as_str().unwrap_or_default().to_ascii_lowercase();
        let size = object["size"].as_u64().unwrap_or(0);
        if oid.len() != 64 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            objects.push(json!({"oid": oid, "size": size, "error": {"code": 422, "message": "the oid must be a sha256 in hex"}}));
        } else if size > FILE_MAX {
            objects.push(json!({"oid": oid, "size": size, "error": {"code": 422, "message": format!("files are at most {} MiB on this hub", FILE_MAX >> 20)}}));
        } else if store::blob_size(&hub.dir, &oid) == Some(size) {
            objects.push(json!({"oid": oid, "size": size}));
        } else {
            let ticket = random_string(32);
            tickets.insert(ticket.clone(), Ticket { oid: oid.clone(), size, expires_at: now() + TICKET_LIFETIME });
            objects.push(json!({
                "oid": oid, "size": size, "authenticated": true,
                "actions": {
                    "upload": {"href": format!("{base}/lfs-upload/{oid}?ticket={ticket}"), "header": {}, "expires_in": TICKET_LIFETIME},
                    "verify": {"href": format!("{base}/datasets/{id}.git/info/lfs/objects/verify"), "header": {}},
                },
            }));
        }
    }
    Ok(Reply::new(200, "application/vnd.git-lfs+json", json!({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).to_string().into_bytes()))
}

pub fn upload(hub: &Shared, req: &Req, oid: &str) -> Result<Reply, HubError> {
    let ticket = req.param("ticket").unwrap_or_default();
    let expected = {
        let tickets = hub.tickets.lock().expect("no panics while holding the lock");
        tickets.get(ticket).filter(|t| t.oid == oid && t.expires_at > now()).cloned()
    };
    let expected = expected.ok_or_else(|| HubError::forbidden("This upload URL is unknown or has expired: ask the batch endpoint again"))?;
    if req.body.len() as u64 != expected.size {
        return Err(HubError::bad_request(format!("expected {} bytes, received {}", expected.size, req.body.len())));
    }
    let stored = store::put_blob(&hub.dir, &req.body).map_err(|error| HubError::new(500, None, error))?;
    if stored != expected.oid {
        return Err(HubError::bad_request(format!("the content's sha256 is {stored}, not {}", expected.oid)));
    }
    hub.tickets.lock().expect("no panics while holding the lock").remove(ticket);
    Ok(Reply::new(200, "text/plain; charset=utf-8", Vec::new()).with_header("ETag", &format!("\"{oid}\"")))
}

pub fn verify(hub: &Shared, req: &Req, id: &str) -> Result<Reply, HubError> {
    let body: Value = req.json()?;
    {
        let state = hub.state();
        state.visible_repo(id, state.token(req.bearer()))?;
    }
    let oid = body["oid"].as_str().unwrap_or_default().to_ascii_lowercase();
    match store::blob_size(&hub.dir, &oid) {
        Some(size) if body["size"].as_u64().is_none_or(|expected| expected == size) => Ok(Reply::json(&json!({"message": "ok"}))),
        _ => Err(HubError::new(404, None, format!("LFS object {oid} was not uploaded"))),
    }
}
