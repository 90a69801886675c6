//! One node's probe session over any [`ProbeStream`]: send the request, read the facts
//! (and, with a mesh request, the listeners), send the targets and read their results,
//! close; each phase with its deadline. A request without a mesh is read to its end at
//! the start, so a plain run is a mesh with no targets: [`ProbeSession::reach`] and
//! [`ProbeSession::close`] have nothing left to do.

use std::time::Duration;

use tarmac_checks::NodeFacts;
use tarmac_checks::ha_protocol::ControlPlaneProbe;
use tarmac_checks::mesh::{Assigned, Refused, Screened};
use tarmac_checks::protocol::{
    ListenFailure, MeshCommand, MeshTarget, PathMtuTarget, PeerKey, PortSpec, ProbeRequest,
};
use tarmac_reports::{MeshMeter, NodeEvents};
use tokio::time::{Instant, timeout_at};

use super::launch::Launch;
use super::probe_error::{ProbeError, SessionPhase};
use super::probe_line::{LineBounds, excerpt};
use super::probe_output::ProbeOutput;
use super::stream::{Opened, ProbeStream};
use super::verdict::{Transcript, verdict};

/// A node that wrote this recently when its phase timed out was still writing.
const STILL_WRITING: Duration = Duration::from_secs(1);

/// The probe's `listening` answer: the ports it listens on and those it could not bind.
pub type Listening = (Vec<PortSpec>, Vec<ListenFailure>);

/// What a node said when its session started.
#[derive(Debug)]
pub struct Started {
    pub facts: NodeFacts,
    /// Empty for a request without a mesh.
    pub listening: Listening,
}

/// What one node's mesh phase measured: its results held to what it was assigned
/// (accepted, unreported, refused).
pub type Reached = Screened;

/// A node's session after its start.
pub struct ProbeSession {
    stream: Box<dyn ProbeStream>,
    t: Transcript,
    launch: Launch,
    /// Where the facts and the listeners are said to have arrived, as they do.
    events: NodeEvents,
    /// The request had a mesh: the stream stays open across the phases.
    mesh: bool,
    /// The node runs a VRRP listener: it reports what it heard.
    vrrp: bool,
    /// The stream has not ended yet.
    open: bool,
    facts_announced: bool,
    listeners_announced: bool,
    /// Counts the reach results of [`ProbeSession::reach`] as they come.
    meter: Option<MeshMeter>,
    /// Reach results counted on `meter` so far.
    counted: usize,
    deadline: Instant,
    /// When the node last wrote: a timeout while it still writes is a flood, not a stall.
    last_read: Instant,
    /// The current phase's timeout, for messages.
    after: Duration,
}

impl std::fmt::Debug for ProbeSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeSession")
            .field("node", &self.launch.node)
            .field("stream", &self.stream)
            .field("mesh", &self.mesh)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl ProbeSession {
    /// Sends the request on a stream whose probe runs, and reads until its facts and
    /// listeners (a mesh request) or to the end of the stream (a plain one).
    pub async fn start(
        opened: Opened,
        request: &ProbeRequest,
        launch: Launch,
        events: NodeEvents,
    ) -> Result<(ProbeSession, Started), ProbeError> {
        let mesh = request.mesh.is_some();
        let vrrp = request.mesh.as_ref().is_some_and(|m| m.vrrp.is_some());
        let after = launch.limits.probe_timeout;
        let bounds = LineBounds::for_request(request.files.len(), request.commands.len());
        let mut session = ProbeSession {
            stream: opened.stream,
            t: Transcript {
                output: ProbeOutput::new(&launch.node, launch.limits.max_output, bounds),
                ..Transcript::default()
            },
            launch,
            events,
            mesh,
            vrrp,
            open: true,
            facts_announced: false,
            listeners_announced: false,
            meter: None,
            counted: 0,
            deadline: Instant::now() + after,
            last_read: Instant::now(),
            after,
        };
        match session.begin(request, &opened.leftover).await {
            Ok(started) => Ok((session, started)),
            Err(e) => {
                session.stream.finish().await;
                Err(e)
            }
        }
    }

    async fn begin(
        &mut self,
        request: &ProbeRequest,
        leftover: &[u8],
    ) -> Result<Started, ProbeError> {
        let mut line = serde_json::to_vec(request).map_err(|e| {
            ProbeError::protocol(&self.launch.node, format!("cannot encode the request: {e}"))
        })?;
        line.push(b'\n');
        // Stdin stays open until the session ends, also for a plain request: the probe
        // takes its EOF for the harness gone, and stops (under sudo no signal reaches it).
        self.send(&line, false).await?;
        self.push(leftover).await;
        if !self.mesh {
            self.pump(|_| false).await?;
            let facts = self.end().await?;
            return facts
                .map(|facts| Started {
                    facts,
                    listening: Listening::default(),
                })
                .ok_or_else(|| ProbeError::protocol(&self.launch.node, "no facts"));
        }
        let open = self
            .pump(|o| o.listening.is_some() || o.error.is_some() || o.done)
            .await?;
        let output = &mut self.t.output;
        if let (true, Some(listening), Some(facts)) =
            (open, output.listening.take(), output.facts.take())
        {
            self.t.facts_taken = true;
            return Ok(Started { facts, listening });
        }
        // Ended early or said something else: the ordinary verdict names why.
        self.pump(|_| false).await?;
        self.end().await?;
        Err(ProbeError::protocol(
            &self.launch.node,
            "the probe ended before listening",
        ))
    }

    /// Sends the probe its targets (the paths whose MTU it measures, its HA
    /// measurements) and reads their results until `probed`, counting the reach results
    /// on `meter` as they come.
    pub async fn reach(
        &mut self,
        targets: Vec<MeshTarget>,
        (path_mtu, control_plane, keys): (Vec<PathMtuTarget>, ControlPlaneProbe, Vec<PeerKey>),
        within: Duration,
        meter: &MeshMeter,
    ) -> Result<Reached, ProbeError> {
        if !self.mesh {
            return Ok(Reached::default());
        }
        self.meter = Some(meter.clone());
        self.counted = 0;
        let vrrp = self.vrrp;
        self.t
            .output
            .assigned
            .assign(&targets, &path_mtu, &control_plane, vrrp);
        let line = self.command_line(&MeshCommand::Probe {
            targets,
            path_mtu,
            control_plane,
            keys,
        })?;
        self.deadline = Instant::now() + within;
        self.after = within;
        self.send(&line, false).await?;
        // As long as the node's targets (tens of KiB in a full mesh): not kept for the
        // probing, while every node's session is open.
        drop(line);
        let pumped = self.pump(|o| o.probed || o.error.is_some() || o.done).await;
        self.meter = None;
        let open = pumped?;
        let output = &mut self.t.output;
        if let Some(message) = output.error.take() {
            return Err(ProbeError::ProbeFailed {
                node: self.launch.node.clone(),
                message,
            });
        }
        if !open || !output.probed {
            return Err(ProbeError::protocol(
                &self.launch.node,
                "the probe ended before `probed`",
            ));
        }
        let node = &self.launch.node;
        Ok(std::mem::replace(&mut output.assigned, Assigned::closed(node)).finish())
    }

    /// Tells the probe to close its listeners and reads until the stream is gone; with
    /// the results it sent after its `probed`, refused (they count into its
    /// `mesh.refused_results`).
    pub async fn close(mut self, within: Duration) -> (Result<(), ProbeError>, Refused) {
        if !self.mesh {
            return (Ok(()), Refused::default());
        }
        self.deadline = Instant::now() + within;
        self.after = within;
        if let Ok(line) = self.command_line(&MeshCommand::Close) {
            // A probe that already ended cannot hear us; its end is what we wait for.
            let _ = self.send(&line, true).await;
        }
        let pumped = self.pump(|_| false).await;
        // Before end(), which takes the transcript.
        let late = self.t.output.assigned.late().cloned().unwrap_or_default();
        let ended = self.end().await;
        (pumped.and(ended).map(drop), late)
    }

    fn command_line(&self, command: &MeshCommand) -> Result<Vec<u8>, ProbeError> {
        let mut line = serde_json::to_vec(command).map_err(|e| {
            ProbeError::protocol(&self.launch.node, format!("cannot encode a command: {e}"))
        })?;
        line.push(b'\n');
        Ok(line)
    }

    async fn send(&mut self, bytes: &[u8], eof: bool) -> Result<(), ProbeError> {
        let sent = timeout_at(self.deadline, async {
            self.stream.write(bytes).await?;
            if eof {
                self.stream.close_stdin().await?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await;
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(ProbeError::Stream {
                node: self.launch.node.clone(),
                phase: SessionPhase::Probe,
                source,
            }),
            Err(_) => Err(self.timed_out().await),
        }
    }

    /// Reads until `done` holds (true: the stream is still open) or the stream has
    /// ended (false). A timeout asks the node side to stop.
    async fn pump(&mut self, done: impl Fn(&ProbeOutput) -> bool) -> Result<bool, ProbeError> {
        loop {
            if done(&self.t.output) {
                return Ok(true);
            }
            if !self.open {
                return Ok(false);
            }
            match timeout_at(self.deadline, self.stream.read()).await {
                Ok(Ok(Some(data))) => {
                    self.last_read = Instant::now();
                    self.push(&data).await;
                }
                Ok(Ok(None)) => self.open = false,
                Ok(Err(source)) => {
                    self.open = false;
                    return Err(ProbeError::Stream {
                        node: self.launch.node.clone(),
                        phase: SessionPhase::Probe,
                        source,
                    });
                }
                Err(_) => return Err(self.timed_out().await),
            }
        }
    }

    /// Feeds the probe's output; anything that is not the protocol ends the session.
    async fn push(&mut self, data: &[u8]) {
        if data.is_empty() || self.t.protocol_error.is_some() {
            return;
        }
        if let Err(reason) = self.t.output.push(data) {
            self.t.protocol_error = Some(reason);
            self.stream.abort().await;
            self.open = false;
        }
        let output = &self.t.output;
        if !self.facts_announced && output.facts.is_some() {
            self.facts_announced = true;
            self.events.facts_received();
        }
        if let (false, Some((bound, failed))) = (self.listeners_announced, &output.listening) {
            self.listeners_announced = true;
            self.events.listeners_ready(bound.len(), failed.len());
        }
        if let Some(meter) = &self.meter {
            let reported = output.assigned.reported();
            meter.add(reported.saturating_sub(self.counted));
            self.counted = reported;
        }
    }

    async fn timed_out(&mut self) -> ProbeError {
        self.stream.abort().await;
        self.open = false;
        let output = &self.t.output;
        if self.last_read.elapsed() < STILL_WRITING {
            return ProbeError::Flooding {
                node: self.launch.node.clone(),
                after: self.after,
                bytes: output.received(),
            };
        }
        let pending = output.pending();
        if pending.is_empty() {
            return ProbeError::Timeout {
                node: self.launch.node.clone(),
                phase: SessionPhase::Probe,
                after: self.after,
            };
        }
        ProbeError::Stalled {
            node: self.launch.node.clone(),
            after: self.after,
            bytes: pending.len(),
            start: excerpt(pending),
        }
    }

    /// The stream has ended: release it and give the verdict.
    async fn end(&mut self) -> Result<Option<NodeFacts>, ProbeError> {
        self.stream.finish().await;
        let mut t = std::mem::take(&mut self.t);
        if t.protocol_error.is_none()
            && let Err(reason) = t.output.finish()
        {
            t.protocol_error = Some(reason);
        }
        t.stderr = String::from_utf8_lossy(self.stream.stderr()).into_owned();
        t.exit = self.stream.exit().map(str::to_owned);
        verdict(t, &self.launch)
    }
}
