// The widget's CSS, scoped by its Shadow DOM; `all: initial` stops the host page's inherited styles.
export const styles = `
:host { all: initial; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; }
[hidden] { display: none !important; }
button { font: inherit; cursor: pointer; }
.launcher { display: block; margin-left: auto; border: 0; border-radius: 999px; padding: 12px 18px;
  background: #3ecf8e; color: #06281a; font-weight: 600; box-shadow: 0 4px 14px rgba(0,0,0,.2); }
.panel { display: flex; flex-direction: column; width: 340px; height: 460px; max-height: calc(100vh - 100px);
  margin-bottom: 12px; background: #fff; border-radius: 12px; overflow: hidden; box-shadow: 0 8px 30px rgba(0,0,0,.25); }
header { display: flex; align-items: center; justify-content: space-between; padding: 10px 14px;
  background: #1c1c1c; color: #fff; }
h2 { margin: 0; font-size: 15px; }
.close { border: 0; background: none; color: inherit; font-size: 20px; line-height: 1; }
.banner { margin: 0; padding: 6px 14px; background: #fff4d6; font-size: 13px; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f6f8fa; }
.message { max-width: 80%; padding: 8px 10px; border-radius: 10px; background: #fff; border: 1px solid #e1e4e8;
  align-self: flex-start; white-space: pre-wrap; overflow-wrap: anywhere; }
.message.visitor { align-self: flex-end; background: #dafbe1; border-color: #b4e8c2; }
.message.failed { border-color: #cf222e; }
.message.preview { border-style: dashed; }
.text { margin: 0; }
.badge { display: inline-block; margin-bottom: 2px; padding: 0 6px; border-radius: 4px; background: #8250df;
  color: #fff; font-size: 11px; font-weight: 600; }
.badge.agent { background: #0969da; }
.status { display: block; font-size: 12px; color: #57606a; }
.failed .status { color: #cf222e; }
.failed button { border: 1px solid #cf222e; border-radius: 6px; background: #fff; color: #cf222e; padding: 2px 8px; }
.note, .alert { margin: 0; padding: 6px 14px; font-size: 13px; color: #57606a; }
.alert { color: #cf222e; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e1e4e8; }
textarea { flex: 1; resize: none; font: inherit; padding: 6px 8px; border: 1px solid #d0d7de; border-radius: 8px; }
form button { border: 0; border-radius: 8px; padding: 0 14px; background: #1c1c1c; color: #fff; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
`;
