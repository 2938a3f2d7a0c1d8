//! `viewstamp dev`: a local cluster of real processes on loopback, for trying things.
//! It writes a cluster file, formats every member, starts each as `viewstamp start` in
//! its own process, waits until the cluster takes writes, serves the visualizer, and
//! on Ctrl-C stops every process it started.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cli::DevArgs;
use crate::error::Error;
use crate::node::config::{write_local_cluster, Config, LocalCluster, Overrides};
use crate::node::launch::format_member;

const CLUSTER_FILE: &str = "cluster.toml";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(args: &DevArgs) -> Result<u8, Error> {
    let config = prepare(args)?;
    let binary = std::env::current_exe().map_err(|error| Error::Dev(format!("cannot find this binary: {error}")))?;
    let mut members = Vec::new();
    println!("Starting {} members in {} ...", config.members.len(), args.dir.display());
    for member in &config.members {
        match spawn_member(&binary, &args.dir, member.id, args) {
            Ok(child) => members.push(child),
            Err(error) => {
                stop_all(&mut members);
                return Err(error);
            }
        }
    }
    let outcome = serve(args, &config, &mut members);
    stop_all(&mut members);
    outcome
}

/// Reuse the cluster in `dir`, or write and format a new one.
fn prepare(args: &DevArgs) -> Result<Config, Error> {
    let path = args.dir.join(CLUSTER_FILE);
    if args.fresh && args.dir.exists() {
        if !path.exists() {
            return Err(Error::Dev(format!(
                "{} exists but holds no {CLUSTER_FILE}: not deleting it; choose another --dir",
                args.dir.display()
            )));
        }
        std::fs::remove_dir_all(&args.dir)
            .map_err(|error| Error::Dev(format!("cannot delete {}: {error}", args.dir.display())))?;
    }
    if path.exists() {
        println!("Restarting the cluster in {} (--fresh starts a new one)", args.dir.display());
        return Ok(Config::load(&path)?);
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|error| Error::Dev(format!("cannot create {}: {error}", args.dir.display())))?;
    let base = args.client_port;
    let spec = LocalCluster {
        cluster_id: 1,
        replicas: args.replicas,
        standbys: args.standbys,
        client_base_port: base,
        peer_base_port: base.wrapping_add(720),
        admin_base_port: base.wrapping_add(1720),
    };
    let mut config = write_local_cluster(&path, &spec)?;
    if let Some(release) = args.binary_release {
        let overrides = Overrides { binary_release: Some(release), ..Overrides::default() };
        config.apply_overrides(0, &overrides)?;
    }
    for member in config.members.clone() {
        format_member(&config, member.id, false)?;
    }
    println!("Formatted a new cluster: {} active, {} standby", args.replicas, args.standbys);
    Ok(config)
}

fn spawn_member(binary: &Path, dir: &Path, member: u8, args: &DevArgs) -> Result<Child, Error> {
    let log_path = dir.join(format!("member-{member}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|error| Error::Dev(format!("cannot open {}: {error}", log_path.display())))?;
    let log_err =
        log.try_clone().map_err(|error| Error::Dev(format!("cannot share {}: {error}", log_path.display())))?;
    let mut command = Command::new(binary);
    command
        .arg("start")
        .arg("--config")
        .arg(dir.join(CLUSTER_FILE))
        .arg("--member")
        .arg(member.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    if let Some(release) = args.binary_release {
        command.arg("--binary-release").arg(release.to_string());
    }
    command.spawn().map_err(|error| Error::Dev(format!("cannot start member {member}: {error}")))
}

fn serve(args: &DevArgs, config: &Config, members: &mut [Child]) -> Result<u8, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Error::Runtime(error.to_string()))?;
    runtime.block_on(async {
        let (stop_web, web_shutdown) = tokio::sync::watch::channel(false);
        let web = match web_directory(args) {
            Some(root) if args.web_port != 0 => {
                let address = format!("127.0.0.1:{}", args.web_port);
                let listener = tokio::net::TcpListener::bind(&address).await.map_err(|source| Error::Listen {
                    what: "the visualizer",
                    address: address.clone(),
                    source,
                })?;
                let has_module = root.join("pkg").join("viewstamp_wasm_bg.wasm").exists();
                Some((
                    tokio::spawn(crate::node::admin::serve_static(listener, root, web_shutdown)),
                    address,
                    has_module,
                ))
            }
            _ => None,
        };
        wait_until_ready(config, members).await?;
        print_usage(
            config,
            web.as_ref().map(|(_, address, has_module)| (address.as_str(), *has_module)),
            args.web_port != 0,
        );
        supervise(members).await;
        let _ = stop_web.send(true);
        if let Some((task, _, _)) = web {
            let _ = task.await;
        }
        Ok(0)
    })
}

fn web_directory(args: &DevArgs) -> Option<PathBuf> {
    if let Some(dir) = &args.web_dir {
        return Some(dir.clone());
    }
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("web-visualizer");
    source_tree.join("index.html").exists().then_some(source_tree)
}

/// Every member answers on its client port, then a write commits.
async fn wait_until_ready(config: &Config, members: &mut [Child]) -> Result<(), Error> {
    let deadline = Instant::now() + READY_TIMEOUT;
    for member in &config.members {
        loop {
            if let Some(status) = members[member.id as usize].try_wait().ok().flatten() {
                return Err(Error::Dev(format!(
                    "member {} exited ({status}) while starting: see member-{}.log",
                    member.id, member.id
                )));
            }
            if resp_command(&member.client_address.to_string(), &["PING"]).is_ok() {
                println!("  member {} ({:?}) is up: clients on {}", member.id, member.role, member.client_address);
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Dev(format!("member {} did not open its client port in time", member.id)));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let first = config.members[0].client_address.to_string();
    loop {
        match resp_command(&first, &["SET", "viewstamp:dev:ready", "1"]) {
            Ok(reply) if reply.starts_with("+OK") => break,
            _ if Instant::now() > deadline => {
                return Err(Error::Dev("the cluster elected no primary in time: see the member logs".into()))
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    println!("  the cluster committed its first write");
    Ok(())
}

fn print_usage(config: &Config, web: Option<(&str, bool)>, web_requested: bool) {
    let first = &config.members[0];
    let port = first.client_address.port;
    println!();
    println!("Cluster ready. Any member takes clients (writes go to the primary):");
    for member in &config.members {
        println!(
            "  member {}  {:<8} clients {}  admin http://{}/status",
            member.id,
            format!("{:?}", member.role).to_lowercase(),
            member.client_address,
            member.admin_address
        );
    }
    println!();
    println!("Try:");
    println!("  redis-cli -p {port} SET greeting hello");
    println!("  redis-cli -p {port} GET greeting");
    println!("  redis-cli -p {port} INFO replication");
    println!("  viewstamp status --config {}", config.origin);
    match web {
        Some((address, true)) => println!("\nVisualizer: http://{address}/"),
        Some((address, false)) => {
            println!("\nVisualizer: http://{address}/ (its wasm module is not built: run scripts/build-wasm.sh first)")
        }
        None if !web_requested => {}
        None => println!("\nVisualizer: not served (no web-visualizer directory; pass --web-dir)"),
    }
    println!("\nCtrl-C stops every member.");
}

/// Until Ctrl-C; a member that exits is reported, and the rest keep running.
async fn supervise(members: &mut [Child]) {
    let mut reported = vec![false; members.len()];
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // SIGTERM too: a dev cluster run by a script or `timeout` must not orphan its members.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = terminated => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        for (id, child) in members.iter_mut().enumerate() {
            if reported[id] {
                continue;
            }
            if let Ok(Some(status)) = child.try_wait() {
                reported[id] = true;
                println!("member {id} exited ({status}): see member-{id}.log");
            }
        }
    }
    println!("\nStopping every member ...");
}

/// SIGTERM (a graceful stop), then SIGKILL for any still running after a while.
fn stop_all(members: &mut [Child]) {
    for child in members.iter() {
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    for child in members.iter_mut() {
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

/// One RESP command over a fresh connection; the first line of the reply.
pub fn resp_command(address: &str, arguments: &[&str]) -> std::io::Result<String> {
    let address: SocketAddr =
        address.parse().map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a socket address"))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = format!("*{}\r\n", arguments.len());
    for argument in arguments {
        request.push_str(&format!("${}\r\n{argument}\r\n", argument.len()));
    }
    stream.write_all(request.as_bytes())?;
    let mut line = String::new();
    BufReader::new(&mut stream).read_line(&mut line)?;
    Ok(line)
}
