// 观潮 console: small enhancements; every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // One tap, then confirm: an action is never taken by a stray tap.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      const question = event.submitter && event.submitter.dataset.confirm;
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }
  // Deadlines count down without a reload.
  const countdowns = document.querySelectorAll("[data-due]");
  if (countdowns.length) {
    const zh = document.documentElement.lang.startsWith("zh");
    const tick = () => {
      const now = Date.now() / 1000;
      for (const node of countdowns) {
        const minutes = Math.round((Number(node.dataset.due) - now) / 60);
        node.textContent = minutes >= 0
          ? (zh ? `剩余 ${minutes} 分钟` : `${minutes} min left`)
          : (zh ? `已超时 ${-minutes} 分钟` : `${-minutes} min overdue`);
        node.classList.toggle("late", minutes < 0);
      }
    };
    setInterval(tick, 15000);
  }
  // The board updates itself.
  const board = document.getElementById("board");
  if (board) {
    setInterval(async () => {
      const url = new URL(board.dataset.refresh, location.href);
      url.searchParams.set("fragment", "1");
      const answer = await fetch(url, { credentials: "same-origin" });
      if (answer.ok && !answer.redirected) board.innerHTML = await answer.text();
      else if (answer.redirected) location.reload();  // signed out: the page says so
    }, 15000);
  }
  // Copy is checked while it is typed.
  const form = document.getElementById("copy-form");
  if (form) {
    const text = form.querySelector("textarea");
    const result = document.getElementById("result");
    let timer = 0;
    const check = async () => {
      const body = new URLSearchParams(new FormData(form));
      body.set("fragment", "1");
      const answer = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
      if (answer.ok && !answer.redirected) result.innerHTML = await answer.text();
    };
    text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 300); });
  }
  // A chosen file is uploaded at once (the server reads .docx and .txt alike).
  const upload = document.getElementById("file-form");
  if (upload) {
    upload.querySelector("button").hidden = true;
    upload.querySelector("input[type=file]").addEventListener("change", (event) => {
      if (event.target.files.length) upload.requestSubmit();
    });
  }
});
