// The scorecard editor: "Go to the field" beside an error selects the line the error's path names in the document
// and puts the cursor there, so the field can be fixed from the keyboard.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.goto[data-line]");
    if (!button) return;
    const area = document.getElementById("document");
    if (!area) return;
    const lines = area.value.split("\n");
    const line = Math.min(Math.max(1, Number(button.dataset.line)), lines.length);
    let start = 0;
    for (let i = 0; i < line - 1; i++) start += lines[i].length + 1;
    const end = start + lines[line - 1].length;
    area.focus();
    area.setSelectionRange(start, end);
    const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (line - 3) * lineHeight);
    area.dataset.line = String(line);
  });
})();
