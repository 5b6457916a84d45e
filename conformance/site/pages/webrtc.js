// webrtcProbe: what a page script can send around any proxy with WebRTC (used by resident.html, udp.html).
//
// It gathers ICE candidates with a STUN server named `stunName` (a DNS lookup of that name, then STUN
// over UDP to it), and hands the browser a remote answer whose only candidate is `peer` ("address:port"),
// so that the browser sends STUN connectivity checks there: UDP datagrams whose USERNAME attribute is
// "<ufrag>:<local ufrag>" in clear. `ufrag` is free text of ice-chars (A-Z a-z 0-9 + /), 4 to 256 of them.
// Resolves to {ice_state, local_candidates} after `waitMs`.
async function webrtcProbe(peer, stunName, ufrag, waitMs = 3000) {
  const [address, port] = peer.split(":");
  const pc = new RTCPeerConnection({iceServers: [{urls: "stun:" + stunName.split(":")[0] + ":3478"}]});
  let candidates = 0;
  pc.onicecandidate = (e) => { if (e.candidate) candidates += 1; };
  pc.createDataChannel("probe");
  await pc.setLocalDescription(await pc.createOffer());
  const fingerprint = Array.from({length: 32}, (_, i) => (i * 7 % 256).toString(16).padStart(2, "0").toUpperCase());
  const answer = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:" + ufrag, "a=ice-pwd:conformancesuiteprobe0123",
    "a=fingerprint:sha-256 " + fingerprint.join(":"), "a=setup:active", "a=mid:0", "a=sctp-port:5000", ""].join("\r\n");
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  await pc.addIceCandidate({candidate: "candidate:1 1 udp 2122260223 " + address + " " + port + " typ host",
                            sdpMid: "0", sdpMLineIndex: 0});
  await new Promise((done) => setTimeout(done, waitMs));  // checks go out every few tens of ms
  const state = pc.iceConnectionState;
  pc.close();
  return {ice_state: state, local_candidates: candidates};
}
