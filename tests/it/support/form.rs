//! A browser's side of the portal's forms, shared by the `portal*` tests:
//! reading a page, posting a form as `application/x-www-form-urlencoded`
//! or, with files, as `multipart/form-data` (following the 303 after a
//! change), and finding a form's CSRF token.

use super::TestClient;

/// GET a page: status and body.
pub async fn text(c: &TestClient, path: &str) -> (u16, String) {
    let r = c.get(path).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// POST a form as a browser does (following the 303): status, final path, body.
pub async fn post(c: &TestClient, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r = c
        .http
        .post(c.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(form))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let path = r.url().path().to_owned();
    (status, path, r.text().await.unwrap())
}

/// A file in a multipart form: field, file name, media type, content.
pub struct File<'a> {
    pub field: &'a str,
    pub name: &'a str,
    pub media_type: &'a str,
    pub content: Vec<u8>,
}

/// `multipart/form-data` as a browser builds it: the text fields in order,
/// then the files. Returns the content type (with its boundary) and body.
pub fn multipart_body(form: &[(&str, &str)], files: &[File<'_>]) -> (String, Vec<u8>) {
    let boundary = format!("----portaaltest{}", crate::fixtures::random_suffix());
    let mut body = Vec::new();
    for (k, v) in form {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for f in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n\
                 Content-Type: {}\r\n\r\n",
                f.field, f.name, f.media_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(&f.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POST a form with files as a browser does (following the 303): status,
/// final path, body.
pub async fn post_multipart(
    c: &TestClient,
    path: &str,
    form: &[(&str, &str)],
    files: &[File<'_>],
) -> (u16, String, String) {
    let (content_type, body) = multipart_body(form, files);
    let r = c
        .http
        .post(c.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let path = r.url().path().to_owned();
    (status, path, r.text().await.unwrap())
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
pub fn urlencoded(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(body: &str) -> String {
    const FIELD: &str = "name=\"_csrf\" value=\"";
    let at = body.find(FIELD).expect("a form with a CSRF token");
    let rest = &body[at + FIELD.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Undoes the HTML escaping of a text node.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').unwrap() + at;
        let entity = &rest[at + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            e if e.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&e[2..], 16).unwrap()).unwrap()
            }
            e => char::from_u32(e[1..].parse().unwrap()).unwrap(),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}
