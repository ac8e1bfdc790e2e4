//! A TCP relay in front of a real server, which a test can cut or stop: a store (or source)
//! that goes away mid-run, as a failover or a network blip makes it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// Relays `127.0.0.1:<port>` to a target address, one pair of threads a connection.
pub struct Relay {
    port: u16,
    target: String,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Which listening generation may accept: a stopped relay's listener ends when it wakes.
    generation: u64,
    /// Whether the relay listens at all (connections are refused while it does not).
    open: bool,
    /// Both ends of every connection relayed so far, to cut them.
    streams: Vec<TcpStream>,
}

impl Relay {
    /// A relay to `target` (`host:port`), accepting from now on.
    pub fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        let relay = Relay {
            port,
            target: target.to_string(),
            state: Arc::new(Mutex::new(State {
                generation: 0,
                open: true,
                streams: Vec::new(),
            })),
        };
        relay.listen(listener, 0);
        relay
    }

    /// Accepts on `listener` until the relay stops listening as generation `generation`.
    fn listen(&self, listener: TcpListener, generation: u64) {
        let shared = Arc::clone(&self.state);
        let target = self.target.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if state.generation != generation || !state.open {
                    return; // the listener closes: connections are refused
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        state.streams.push(clone);
                    }
                }
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
    }

    /// `url` (a `scheme://user@host:port/db` URL) pointed at the relay instead.
    pub fn url_of(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').expect("a path");
        let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
        format!(
            "{scheme}://{}127.0.0.1:{}/{path}",
            user.unwrap_or_default(),
            self.port
        )
    }

    /// Cuts every connection relayed so far; new ones are still relayed (a blip).
    pub fn cut(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for stream in state.streams.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Cuts every connection and stops listening (connections are refused) until
    /// [`Relay::resume`]: the server is gone.
    pub fn stop(&self) {
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.open = false;
            state.generation += 1;
        }
        // Wakes the listener, which sees it is stopped and closes.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        std::thread::sleep(std::time::Duration::from_millis(50));
        self.cut();
    }

    /// Listens (and relays) on the same port again.
    pub fn resume(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the relay's port again");
        let generation = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.open = true;
            state.generation
        };
        self.listen(listener, generation);
    }
}

/// Copies `from` to `to` on a thread of its own until either end closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
