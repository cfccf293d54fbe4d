// The call page: one audited fetch of the call's audio (as the signed-in user) feeds the player and the waveform;
// the transcript follows playback; a click on a line or on a finding's evidence seeks there.
(function () {
  "use strict";
  const player = document.getElementById("player");
  if (!player) return;
  const audio = document.getElementById("audio");
  const play = document.getElementById("play");
  const clock = document.getElementById("clock");
  const canvas = document.getElementById("wave");
  const turns = Array.from(document.querySelectorAll("#turns .turn"));
  const roles = JSON.parse(document.getElementById("lanes").textContent);
  const begins = JSON.parse(document.getElementById("spans").textContent);
  const ends = JSON.parse(document.getElementById("ends").textContent);
  const durationMs = Number(player.dataset.duration) || 1;
  let peaks = null;
  let loading = null;

  function fmt(ms) {
    const s = Math.floor(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function load() {
    // The audio is fetched once per page (one entry in recorder-ingest's audit), then played from memory.
    if (!loading) {
      loading = fetch(player.dataset.audio, { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("audio " + r.status);
          return r.arrayBuffer();
        })
        .then(function (bytes) {
          audio.src = URL.createObjectURL(new Blob([bytes], { type: "audio/wav" }));
          player.dataset.loaded = "true";
          const Ctx = window.AudioContext || window.webkitAudioContext;
          if (Ctx) {
            new Ctx().decodeAudioData(bytes.slice(0)).then(function (buffer) {
              peaks = computePeaks(buffer, canvas.width);
              draw();
            }).catch(function () { /* no waveform, the lanes stay */ });
          }
        });
    }
    return loading;
  }

  function computePeaks(buffer, n) {
    const out = new Float32Array(n);
    for (let c = 0; c < buffer.numberOfChannels; c++) {
      const data = buffer.getChannelData(c);
      const step = Math.max(1, Math.floor(data.length / n));
      for (let i = 0; i < n; i++) {
        let max = 0;
        for (let j = i * step; j < Math.min(data.length, (i + 1) * step); j++) {
          const v = Math.abs(data[j]);
          if (v > max) max = v;
        }
        if (max > out[i]) out[i] = max;
      }
    }
    return out;
  }

  function draw() {
    const g = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, lane = 18;
    g.clearRect(0, 0, w, h);
    // Speaker lanes: the agent on top, the customer below.
    roles.forEach(function (role, i) {
      const x = (begins[i] / durationMs) * w, width = Math.max(1, ((ends[i] - begins[i]) / durationMs) * w);
      g.fillStyle = role === "agent" ? "#2b6cb0" : role === "customer" ? "#c05621" : "#718096";
      g.fillRect(x, role === "agent" ? 2 : h - lane - 2, width, lane);
    });
    g.font = "11px sans-serif";
    [[canvas.dataset.agent, 14], [canvas.dataset.customer, h - 8]].forEach(function (label) {
      g.fillStyle = "rgba(255,255,255,0.85)";
      g.fillRect(2, label[1] - 11, g.measureText(label[0]).width + 4, 14);
      g.fillStyle = "#1a202c";
      g.fillText(label[0], 4, label[1]);
    });
    if (peaks) {
      const mid = h / 2, amp = (h - 2 * lane - 8) / 2;
      g.fillStyle = "#a0aec0";
      for (let i = 0; i < peaks.length; i++) g.fillRect(i, mid - peaks[i] * amp, 1, Math.max(1, 2 * peaks[i] * amp));
    }
    const at = ((audio.currentTime * 1000) / durationMs) * w;
    g.fillStyle = "#e53e3e";
    g.fillRect(at, 0, 2, h);
  }

  function follow() {
    const ms = audio.currentTime * 1000;
    clock.textContent = fmt(ms);
    let current = null;
    turns.forEach(function (li) {
      const on = ms >= Number(li.dataset.begin) && ms < Number(li.dataset.end);
      li.classList.toggle("current", on);
      if (on) current = li;
    });
    if (current && current.dataset.shown !== "1") {
      turns.forEach(function (li) { li.dataset.shown = ""; });
      current.dataset.shown = "1";
      current.scrollIntoView({ block: "nearest" });
    }
    draw();
  }

  function seek(ms) {
    load().then(function () {
      const go = function () {
        audio.currentTime = ms / 1000;
        follow();
        audio.play().catch(function () {});
      };
      if (audio.readyState >= 1) go();
      else audio.addEventListener("loadedmetadata", go, { once: true });
    });
  }

  document.addEventListener("click", function (event) {
    const target = event.target.closest("[data-seek]");
    if (target) seek(Number(target.dataset.seek));
  });
  canvas.addEventListener("click", function (event) {
    const r = canvas.getBoundingClientRect();
    seek(((event.clientX - r.left) / r.width) * durationMs);
  });
  play.addEventListener("click", function () {
    load().then(function () {
      if (audio.paused) audio.play().catch(function () {}); else audio.pause();
    });
  });
  audio.addEventListener("play", function () { play.textContent = play.dataset.pause; });
  audio.addEventListener("pause", function () { play.textContent = play.dataset.play; });
  audio.addEventListener("timeupdate", follow);
  audio.addEventListener("seeked", follow);
  draw();
})();
