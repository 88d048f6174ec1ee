//! An external issuer whose JWKS is served over HTTPS by the test, with a certificate of a
//! private CA made here: trusted through the issuer's `ca_file`, refused without it.

use std::net::SocketAddr;
use std::path::PathBuf;

use innkeeper_kernel::Error;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::*;

/// A private CA and a server certificate it signed for 127.0.0.1 and localhost.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Innkeeper test CA");
    let ca =
        CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("self-signs");
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().expect("server key");
    let cert = server.signed_by(&server_key, &*ca).expect("CA signs");
    Pki {
        ca_pem: ca.pem(),
        server_chain: vec![cert.der().clone()],
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    }
}

/// A TCP listener that completes a TLS handshake before handing a connection to axum;
/// connections whose handshake fails (a client that does not trust the certificate) are
/// dropped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `keys` at `https://127.0.0.1:<port>/certs` with the server certificate of `pki`.
async fn https_jwks_server(pki: &Pki, keys: Vec<Value>) -> JwksServer {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .expect("a valid certificate and key");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = tcp.local_addr().expect("bound");
    let (app, keys, hits) = jwks_app(keys);
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    JwksServer {
        url: format!("https://{addr}/certs"),
        keys,
        hits,
    }
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &str) -> Self {
        let path = std::env::temp_dir().join(format!("innkeeper-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, contents).expect("writes the CA file");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn verifier_for(external: ExternalIssuerSettings, clock: &ManualClock) -> Result<Verifier, Error> {
    let settings = AuthSettings {
        external: vec![external],
        ..AuthSettings::default()
    };
    let local = shared_keys(
        Arc::new(Mutex::new(JwkSet { keys: Vec::new() })),
        Arc::new(AtomicU64::new(0)),
    );
    Verifier::from_settings(&settings, local, Arc::new(clock.clone()))
}

#[tokio::test]
async fn an_https_jwks_of_a_private_ca_is_trusted_only_through_the_issuers_ca_file() {
    let clock = clock();
    let pki = pki();
    let key = TestKey::rsa("kc-tls-1");
    let server = https_jwks_server(
        &pki,
        vec![serde_json::to_value(&key.jwk).expect("serialises")],
    )
    .await;
    let ca_file = TempFile::with(&pki.ca_pem);
    let token = key.sign(&external_claims(&clock, "tls-alice", &["hotel-owner"]));

    // With the CA file: the keys are fetched over TLS, the token accepted and mapped.
    let trusting = verifier_for(
        ExternalIssuerSettings {
            ca_file: Some(ca_file.0.clone()),
            ..external_settings(&server.url)
        },
        &clock,
    )
    .expect("valid settings");
    let principal = trusting.verify(&token).await.expect("accepted over https");
    assert_eq!(
        principal,
        Principal {
            user_id: external_user_id(EXTERNAL, "tls-alice"),
            role: Role::Hotelier,
        }
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // Without it (the platform's roots only) or with another CA's file: the certificate is not
    // trusted, the keys cannot be fetched, and the token is not accepted: `unavailable` (503),
    // as for any key source that is down, never "anonymous" and never accepted.
    let other_ca = TempFile::with(&self::pki().ca_pem);
    for ca_file in [None, Some(other_ca.0.clone())] {
        let distrusting = verifier_for(
            ExternalIssuerSettings {
                ca_file,
                ..external_settings(&server.url)
            },
            &clock,
        )
        .expect("valid settings");
        let err = distrusting.verify(&token).await.expect_err("not trusted");
        assert_eq!(err.code, ErrorCode::Unavailable, "{err:?}");
        assert_eq!(err.code.http_status(), 503);
        // The TLS failure is logged, not told to the caller.
        assert_eq!(
            err.message,
            "the issuer's signing keys cannot be fetched right now"
        );
        assert_eq!(distrusting.key_fetches(EXTERNAL), 1);
    }
    // The handshakes failed before any request reached the JWKS handler.
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn a_ca_file_that_cannot_be_read_or_holds_no_certificate_is_refused_at_start_up() {
    let clock = clock();
    let https = external_settings("https://127.0.0.1:1/certs");
    assert!(verifier_for(https.clone(), &clock).is_ok());

    let missing =
        std::env::temp_dir().join(format!("innkeeper-no-such-{}.pem", uuid::Uuid::new_v4()));
    let not_pem = TempFile::with("this is not a certificate\n");
    let only_key = TempFile::with(&KeyPair::generate().expect("key").serialize_pem());
    for (path, reason) in [
        (missing, "cannot read"),
        (not_pem.0.clone(), "holds no PEM certificate"),
        (only_key.0.clone(), "holds no PEM certificate"),
    ] {
        let err = verifier_for(
            ExternalIssuerSettings {
                ca_file: Some(path.clone()),
                ..https.clone()
            },
            &clock,
        )
        .expect_err("refused");
        assert_eq!(err.errors[0].field, "auth.external[0].ca_file", "{path:?}");
        assert!(err.errors[0].message.contains(reason), "{err:?}");
    }
}
