// The table's fields: a Deployment's replicas (scale) and each
// container's image, saved through the API.
import { el } from "./dom.js";
import { api } from "./api.js";
import { errorText, imageTail } from "./format.js";

// editor is an input that shows the live value until the user edits it,
// then offers Save; Enter saves, Escape reverts. The server's error is
// shown next to it. With short, a value too long for the field is shown
// shortened while the field is neither focused nor edited.
function editor({ label, type, cls, name, save, allowed, short }) {
  const input = el("input", { type, class: cls, name, min: type === "number" ? "0" : null, "aria-label": label || name, autocomplete: "off", spellcheck: "false" });
  const button = el("button", { type: "button", hidden: true }, "Save");
  const msg = el("span", { class: "field-error", hidden: true, role: "alert" });
  const node = el("div", { class: "edit" }, label ? el("label", {}, label) : null, input, button, msg);
  let live = "", dirty = false, baseValue = "", busy = false;
  input.disabled = !allowed();
  // show puts the live value in the field, shortened to its width when
  // it rests; focus gives the whole value to edit.
  const show = () => {
    if (dirty) return;
    input.value = short && document.activeElement !== input ? short(live, input) : live;
  };
  if (short) {
    input.addEventListener("focus", show);
    input.addEventListener("blur", show);
    if (typeof ResizeObserver === "function") new ResizeObserver(show).observe(input);
  }
  const setDirty = (d) => { dirty = d; input.classList.toggle("dirty", d); button.hidden = !d; };
  const clearMsg = () => { msg.hidden = true; msg.textContent = ""; msg.className = "field-error"; };
  input.addEventListener("input", () => {
    if (!dirty) baseValue = live;
    setDirty(input.value !== live);
    clearMsg();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") submit();
    if (e.key === "Escape") { input.value = live; setDirty(false); clearMsg(); }
  });
  button.addEventListener("click", submit);
  function submit() {
    if (!dirty || busy) return;
    busy = true;
    button.disabled = true;
    clearMsg();
    save(input.value, baseValue).then((res) => {
      setDirty(false);
      msg.hidden = false;
      if (res && res.warning) {
        // Saved, but an autoscaler will undo it: say so until the next edit.
        msg.className = "field-warning"; msg.textContent = "saved; warning: " + res.warning;
        return;
      }
      msg.className = "field-ok"; msg.textContent = "saved";
      setTimeout(() => { if (msg.className === "field-ok") clearMsg(); }, 2000);
    }, (e) => {
      msg.hidden = false;
      msg.textContent = errorText(e);
    }).finally(() => { busy = false; button.disabled = false; });
  }
  return {
    node, input,
    update(value) {
      live = value;
      input.title = value; // the whole of a long image, where the field is narrow
      show(); // never overwrites what the user types
    },
  };
}

// replicasEditor scales the workload at path (its API path), sending the
// count it was edited from, so that a scale made meanwhile is refused.
export function replicasEditor(path, can) {
  return editor({
    label: null, type: "number", cls: "replicas", name: "replicas", allowed: () => can("scale"),
    save: (value, baseValue) => {
      if (!/^\d+$/.test(value.trim())) return Promise.reject({ error: "replicas must be a whole number, 0 or more" });
      return api("PUT", path + "/scale",
        { replicas: Number(value), currentReplicas: Number(baseValue) });
    },
  });
}

// replicasText shows the desired count of a workload that has no scale (a
// DaemonSet), in the place of replicasEditor, with nothing to edit.
export function replicasText() {
  const node = el("span", { class: "replicas-fixed num", title: "one pod per node it selects: no scale" });
  return { node, input: null, update(value) { node.textContent = value; } };
}

// fitImage is image cut from the left to what input shows at its width
// (its font is monospace), so the tag stays in sight; the whole image is
// in its title.
function fitImage(image, input) {
  const width = input.clientWidth;
  if (!width) return image; // not laid out yet: the ResizeObserver comes back
  const style = getComputedStyle(input);
  const chars = Math.floor((width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)) / (0.6 * parseFloat(style.fontSize)));
  return imageTail(image, Math.max(chars, 4));
}

// updateImages keeps row r's image fields, one per container, as event ev
// has them; they save at r.path, its workload's API path.
export function updateImages(r, ev, can) {
  const names = new Set(ev.containers.map((c) => c.name));
  for (const [cname, ed] of r.images) if (!names.has(cname)) { ed.node.remove(); r.images.delete(cname); }
  for (const c of ev.containers) {
    let ed = r.images.get(c.name);
    if (!ed) {
      ed = editor({
        label: c.name, type: "text", cls: "image", name: "image-" + c.name, allowed: () => can("patch"), short: fitImage,
        save: (value) => api("PUT", r.path + "/image", { container: c.name, image: value.trim() }),
      });
      r.images.set(c.name, ed);
      r.cells.images.append(ed.node);
    }
    ed.update(c.image);
  }
}
