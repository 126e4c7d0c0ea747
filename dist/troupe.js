// @ts-self-types="./troupe.d.ts"
// Built by `deno task build` from build/entry.ts and the modules it imports. Do not edit.
// sources sha256: 888bc243a5282c7708857ad3b826d971f37418a2437815ad0cbdf7f64f6a24f6
var _SHARED_STATE_VERSION=3;
var _THREAD_PID_BASE=1e9;
var _IN_WORKER=typeof globalThis.WorkerGlobalScope!=="undefined";
var CONTEXT_KEY=Symbol.for(`troupe.context.v${_SHARED_STATE_VERSION}`);
var _context=(function _context(){
const g=globalThis;
return g[CONTEXT_KEY]??=mainContext()});
var _setContext=(function _setContext(ctx){
globalThis[CONTEXT_KEY]=ctx});
function mainContext(){
const pids=new Int32Array(new SharedArrayBuffer(8));
return{
self:{
name:"MainProcess",pid:Deno.pid,daemon:false},parent:void 0,postToParent:void 0,childPrefix:"",childCount:0,pids,workerOptions:null}}function _nextIdentity(){
const ctx=_context();
return`${ctx.childPrefix}${++ctx.childCount}`}function _nextPid(){
return _THREAD_PID_BASE+Atomics.add(_context().pids,0,1)+1}var IMPORTING_KEY=Symbol.for(`troupe.importing.v${_SHARED_STATE_VERSION}`);
var _startImports=(function _startImports(){
globalThis[IMPORTING_KEY]=true});
var _endImports=(function _endImports(){
delete globalThis[IMPORTING_KEY]});
function _refuseWhileImporting(what){
if(!globalThis[IMPORTING_KEY])return;
throw new Error(`${what} was started while a worker was still importing its modules: a module's top-level code runs again in every worker that imports it, so the module that declares the tasks must not start processes or pools at its top level. Put that code under \`if (import.meta.main) { ... }\`, as Python guards it with \`if __name__ == "__main__":\``)}var BLOCK=256;
var free=[];
function takeCell(){
let cell=free.pop();
if(!cell){
const block=new Int32Array(new SharedArrayBuffer(BLOCK*4));
for(let i=BLOCK-1;
i>0;
i--)free.push({
block,index:i});
cell={
block,index:0}}return cell}var MAX_TIMER_MS=2**31-1;
var never=()=>{
};
function _after(ms,fn){
if(!(ms<Infinity))return never;
if(!_IN_WORKER){
if(ms<=MAX_TIMER_MS){
const id2=setTimeout(fn,ms);
return()=>clearTimeout(id2)}const due=performance.now()+ms;
let id;
const step=()=>{
const left=due-performance.now();
id=left>MAX_TIMER_MS?setTimeout(step,MAX_TIMER_MS):setTimeout(fn,Math.max(0,left))};
step();
return()=>clearTimeout(id)}const cell=takeCell();
Atomics.store(cell.block,cell.index,0);
let pending=true;
const ended=result=>{
free.push(cell);
if(!pending)return;
pending=false;
if(result==="timed-out")fn()};
const wait2=Atomics.waitAsync(cell.block,cell.index,0,Math.max(0,ms));
if(wait2.async)wait2.value.then(ended);
else queueMicrotask(()=>ended(wait2.value));
return()=>{
if(!pending)return;
pending=false;
Atomics.store(cell.block,cell.index,1);
Atomics.notify(cell.block,cell.index)}}function _isClass(fn){
return typeof fn==="function"&&/^class[\s{]/.test(Function.prototype.toString.call(fn))}var _post=(function _post(target,message2,transfer){
if(transfer!==void 0&&transfer.length>0)target.postMessage(message2,transfer);
else target.postMessage(message2)});
function _describe(value){
if(value===null)return"null";
if(typeof value==="function"){
return`${_isClass(value)?"class":"function"} ${value.name||"(anonymous)"}`}if(typeof value==="symbol")return`symbol ${value.description??""}`.trimEnd();
if(typeof value!=="object")return typeof value;
const ctor=Object.getPrototypeOf(value)?.constructor;
return ctor?.name?`${ctor.name} object`:"object"}async function _settledWithin(promise,limitMs){
const settled=promise.then(()=>{
},()=>{
});
if(limitMs===void 0)return settled;
let cancel;
await Promise.race([settled,new Promise(resolve=>cancel=_after(limitMs,resolve))]);
cancel()}var _checkTimeout=(function _checkTimeout(timeoutMs,what){
if(timeoutMs===void 0||timeoutMs===null||timeoutMs===Infinity)return void 0;
if(typeof timeoutMs!=="number"||Number.isNaN(timeoutMs)||timeoutMs<0){
throw new RangeError(`${what} must be a non-negative number of milliseconds, got ${String(timeoutMs)}`)}return timeoutMs});
var INSPECT=Symbol.for("Deno.customInspect");
var _inspectable=(function _inspectable(cls,fields){
Object.defineProperty(cls.prototype,INSPECT,{
value:function customInspect(inspect,options){
let shown={
};
try{
shown=fields(this)}catch{
}return`${this.constructor.name} ${inspect(shown,options)}`}})});
var ENDED=-1;
var INITIAL_BYTES=4096;
var MAX_BYTES=64<<20;
var _livenessTable=(function _livenessTable(){
const ctx=_context();
if(!ctx.liveness){
const buffer=new SharedArrayBuffer(INITIAL_BYTES,{
maxByteLength:MAX_BYTES});
ctx.liveness=new Int32Array(buffer)}return ctx.liveness});
var ENDINGS=1;
var _endingsWord=(function _endingsWord(){
return _context().pids});
var slot=(function slot(pid2){
return pid2-_THREAD_PID_BASE+1});
var _endings=(function _endings(){
return Atomics.load(_context().pids,ENDINGS)});
function _markStarted(pid2,parentPid){
const table=_livenessTable();
const i=slot(pid2);
if(i<2)return;
const buffer=table.buffer;
const needed=(i+1)*4;
if(needed>buffer.byteLength){
if(needed>buffer.maxByteLength)return;
const size=Math.min(buffer.maxByteLength,Math.max(needed,buffer.byteLength*2));
try{
buffer.grow(size)}catch{
}}Atomics.store(table,i,parentPid)}var _markEnded=(function _markEnded(pid2){
const table=_livenessTable();
const i=slot(pid2);
if(i>=2&&i<table.length&&Atomics.exchange(table,i,ENDED)!==ENDED){
const pids=_context().pids;
Atomics.add(pids,ENDINGS,1);
Atomics.notify(pids,ENDINGS)}});
function _nextEnding(seen,ms){
const wait2=Atomics.waitAsync(_context().pids,ENDINGS,seen,ms);
return wait2.async?wait2.value:Promise.resolve(wait2.value)}function _wakeEndingWaits(){
Atomics.notify(_context().pids,ENDINGS)}var _isAlive=(function _isAlive(pid2){
const table=_livenessTable();
for(let depth=0;
depth<1e4;
depth++){
const i=slot(pid2);
if(i<2||i>=table.length)return true;
const entry=Atomics.load(table,i);
if(entry===ENDED)return false;
if(entry===0)return true;
pid2=entry}return true});
var RemoteError=class extends Error{
processName;
pid;
remoteName;
remoteMessage;
remoteStack;
constructor(processName,pid2,error){
super(`${error.name} in ${processName}: ${error.message}`,{
cause:_fromWireError(error)});
this.name="RemoteError";
this.processName=processName;
this.pid=pid2;
this.remoteName=error.name;
this.remoteMessage=error.message;
this.remoteStack=error.stack}};
function _fromWireError(error){
const cause=error.cause?_fromWireError(error.cause):void 0;
const rebuilt=cause===void 0?new Error(error.message):new Error(error.message,{
cause});
rebuilt.name=error.name;
rebuilt.stack=error.stack??`${error.name}: ${error.message}`;
return rebuilt}var PermissionError=class extends Error{
constructor(message2){
super(message2);
this.name="PermissionError"}};
function _toWireError(error){
if(error instanceof Error)return _errorToWire(error,0);
let message2;
try{
message2=typeof error==="string"?error:Deno.inspect(error)}catch{
message2=String(error)}return{
name:"Error",message:`non-Error thrown: ${message2}`}}var CAUSE_DEPTH=8;
var DENO_ADVICE=/, run again with the --allow-(\w+) flag/;
function _adviseOnPermissions(wire2){
const found=DENO_ADVICE.exec(wire2.message);
if(!found)return;
const kind=found[1];
const what=/^Requires \w+ access to (.+)$/.exec(wire2.message.slice(0,found.index))?.[1];
const grant=what===void 0?`${kind}: true`:`${kind}: [${what}] (or ${kind}: true)`;
const advice=`: this process's permissions do not allow it; grant ${grant} in the permissions option of the Process, Pool, spawn() or Manager that starts it (a child gets at most what its parent has)`;
const original=wire2.message;
wire2.message=original.replace(DENO_ADVICE,advice);
if(wire2.stack?.includes(original))wire2.stack=wire2.stack.replace(original,wire2.message)}function _remoteToWire(error){
return error.cause instanceof Error?_errorToWire(error.cause,0):{
name:error.remoteName,message:error.remoteMessage,stack:error.remoteStack}}function _errorToWire(error,depth){
const wire2={
name:String(error.name),message:String(error.message)};
if(typeof error.stack==="string")wire2.stack=error.stack;
if(wire2.name==="NotCapable")_adviseOnPermissions(wire2);
const cause=error.cause;
if(cause!==void 0&&depth<CAUSE_DEPTH){
wire2.cause=cause instanceof Error?_errorToWire(cause,depth+1):_toWireError(cause)}return wire2}function _exitReason(code,error,how){
let description=how;
if(description===void 0){
if(error instanceof RemoteError){
description=`died of an uncaught ${error.remoteName}: ${error.remoteMessage}`}else if(error)description=`failed: ${error.message}`;
else if(code===0)description="exited normally";
else if(code===-15)description="was terminated";
else if(code===-9)description="was killed";
else description=`exited with code ${code}`}return{
code,error,normal:code===0&&error===null,description}}var ActorExited=class extends Error{
actorName;
pid;
method;
reason;
constructor(actorName,pid2,method,reason,inFlight){
const who=pid2===void 0?actorName:`${actorName} (pid ${pid2})`;
super(inFlight?`${who} ${reason.description} before answering ${method}()`:`cannot call ${method}(): ${who} ${reason.description}`,reason.error?{
cause:reason.error}:void 0);
this.name="ActorExited";
this.actorName=actorName;
this.pid=pid2;
this.method=method;
this.reason=reason}};
var MailboxFull=class extends Error{
actorName;
capacity;
constructor(actorName,capacity){
super(`${actorName}'s mailbox is full (capacity ${capacity}); send with wait: true (the default) to wait for room, or give it a larger capacity`);
this.name="MailboxFull";
this.actorName=actorName;
this.capacity=capacity}};
var EscalationError=class extends Error{
supervisorName;
childId;
reason;
constructor(supervisorName,childId,reason,restarts,periodMs){
super(`${supervisorName} gave up after ${restarts} restart${restarts===1?"":"s"} within ${periodMs} ms (more than its intensity allows): child '${childId}' ${reason.description}`,reason.error?{
cause:reason.error}:void 0);
this.name="EscalationError";
this.supervisorName=supervisorName;
this.childId=childId;
this.reason=reason}};
var NAMES=["read","write","net","env","run","ffi","sys","import"];
function _normalizePermissions(permissions,where="permissions"){
if(permissions===void 0||permissions==="inherit")return void 0;
if(permissions==="none")return"none";
if(typeof permissions!=="object"||permissions===null||Array.isArray(permissions)){
throw new TypeError(`${where} must be "inherit", "none" or an object such as { read: true }, got ${_describe(permissions)}`)}const out={
};
for(const key of Object.keys(permissions)){
if(!NAMES.includes(key)){
throw new TypeError(`${where}.${key} is not a permission; use any of ${NAMES.join(", ")}`)}}for(const name of NAMES){
const value=permissions[name];
if(value===void 0)out[name]=false;
else if(value==="inherit"||typeof value==="boolean")out[name]=value;
else if(Array.isArray(value)&&value.every(v=>typeof v==="string"||v instanceof URL)){
out[name]=value.map(v=>v instanceof URL?v.pathname:v)}else{
throw new TypeError(`${where}.${name} must be "inherit", true, false or an array of strings, got ${_describe(value)}`)}}return out}function descriptor(name,item){
if(item===void 0)return{
name};
switch(name){
case"read":case"write":case"ffi":return{
name,path:item};
case"net":case"import":return{
name,host:item};
case"env":return{
name,variable:item};
case"run":return{
name,command:item};
case"sys":return{
name,kind:item}}}function _assertApplicable(perms,where){
if(perms===void 0)return;
if(_workerOptionsEnabled()===false){
throw new PermissionError(`${where} asks for narrowed permissions, which Deno applies only with its 'worker-options' unstable feature. Add "unstable": ["worker-options"] to deno.json or run with --unstable-worker-options (or use permissions: "inherit")`)}if(perms==="none")return;
for(const name of NAMES){
const value=perms[name];
if(value===false||value==="inherit")continue;
for(const item of value===true?[void 0]:value){
const state3=Deno.permissions.querySync(descriptor(name,item)).state;
if(state3!=="granted"){
const what=item===void 0?`all ${name} access`:`${name} access to ${JSON.stringify(item)}`;
throw new PermissionError(`${where}.${name} asks for ${what}, which this process does not have (${state3}); a worker cannot get more rights than its parent. Grant it to the parent (e.g. --allow-${name}) or ask for less`)}}}}function _workerOptionsEnabled(){
const ctx=_context();
if(ctx.workerOptions===null)ctx.workerOptions=detectWorkerOptions();
return ctx.workerOptions}function canRead(path){
try{
return Deno.permissions.querySync({
name:"read",path}).state==="granted"}catch{
return false}}function readText(path){
try{
return Deno.readTextFileSync(path)}catch{
return void 0}}function detectWorkerOptions(){
if(Deno.build.os!=="linux"||!canRead("/proc/self/cmdline"))return void 0;
const argv=readText("/proc/self/cmdline")?.split("\0");
if(!argv)return void 0;
const configs=[];
for(let i=0;
i<argv.length;
i++){
const arg=argv[i];
if(arg==="--unstable"||arg==="--unstable-worker-options")return true;
if(arg==="--config"||arg==="-c")configs.push(argv[i+1]??"");
else if(arg.startsWith("--config="))configs.push(arg.slice("--config=".length))}if(argv.includes("--no-config"))return false;
if(configs.length===0){
const dirs=[Deno.cwd()];
try{
if(Deno.mainModule.startsWith("file:")){
dirs.push(new URL(".",Deno.mainModule).pathname)}}catch{
}for(const start of dirs){
for(let dir=start.replace(/\/+$/,"");
;
dir=dir.slice(0,dir.lastIndexOf("/"))){
for(const name of["deno.json","deno.jsonc"])configs.push(`${dir||""}/${name}`);
if(!dir)break}}}for(const file of configs){
if(!canRead(file))return void 0;
const text=readText(file);
if(text!==void 0&&/"unstable"\s*:\s*\[[^\]]*"worker-options"/.test(text))return true}return false}var runtimeUrl;
var live=new Set;
var _setRuntimeUrl=(function _setRuntimeUrl(url){
runtimeUrl=url});
function _initMessage(self2,identity,permissions,spec){
const ctx=_context();
return{
t:"init",self:self2,parent:ctx.self,childPrefix:`${identity}:`,pids:ctx.pids.buffer,workerOptions:permissions!==void 0?true:_workerOptionsEnabled(),liveness:_livenessTable().buffer,spec}}var loadedEntries=new Map;
var _EARLY_MESSAGES="troupe.early-messages";
function _spawnWorker(name,modules,permissions,events){
_refuseWhileImporting(name);
runtimeUrl??=new URL("./_worker_runtime.ts",import.meta.url).href;
const source=`import { _main } from ${JSON.stringify(runtimeUrl)};
`+modules.map(m=>`import ${JSON.stringify(m)};
`).join("")+"_main();\n";
let url=dataUrl(source);
let gate;
let loaded;
if(mayImport([runtimeUrl,...modules],permissions)){
url=dataUrl(`const early = [], hold = (e) => early.push(e);
self.addEventListener("message", hold);
globalThis[Symbol.for(${JSON.stringify(_EARLY_MESSAGES)})] = { early, hold };
const entry = ${JSON.stringify(url)};
await import(entry);
`)}else{
gate=loadedEntries.get(url);
if(gate===void 0){
loaded=new Int32Array(new SharedArrayBuffer(4));
const wait2=Atomics.waitAsync(loaded,0,0);
const settled=(wait2.async?wait2.value:Promise.resolve()).then(()=>{
loadedEntries.set(url,true)});
loadedEntries.set(url,settled)}}const options={
type:"module",name};
if(permissions!==void 0)options.deno={
permissions};
let worker;
let ended=false;
let queued;
let pid2;
let inChannel2;
const endpoint={
post(message2,transfer){
if(!Array.isArray(message2)&&message2.t==="init"){
_markStarted(pid2=message2.self.pid,message2.parent.pid);
if(loaded)message2.loaded=loaded.buffer;
inChannel2=new Int32Array(new SharedArrayBuffer(4));
message2.inChannel=inChannel2.buffer}if(worker)_post(worker,message2,transfer);
else queued?.push([message2,transfer])},terminate(){
if(ended)return;
ended=true;
live.delete(endpoint);
if(pid2!==void 0)_markEnded(pid2);
if(inChannel2)waitOutOfChannel(inChannel2);
worker?.terminate();
if(loaded)Atomics.notify(loaded,0)}};
const start=()=>{
if(ended)return;
worker=new Worker(url,options);
worker.onmessage=e=>events.message(e.data);
worker.onerror=e=>{
e.preventDefault();
if(loaded)Atomics.notify(loaded,0);
events.error(loadError(e))};
worker.onmessageerror=()=>{
events.error({
name:"DataCloneError",message:"a message from the worker could not be read"})}};
if(gate===void 0||gate===true)start();
else{
queued=[];
void gate.then(()=>{
start();
for(const[message2,transfer]of queued.splice(0)){
try{
if(worker)_post(worker,message2,transfer)}catch(error){
events.error({
name:"DataCloneError",message:`a message to the worker could not be sent: ${error.message}`})}}queued=void 0})}live.add(endpoint);
return endpoint}function dataUrl(source){
return`data:application/javascript;base64,${btoa(unescape(encodeURIComponent(source)))}`}function loadError(e){
const error=e.error instanceof Error?e.error:void 0;
return{
name:error?.name??"Error",message:(error?.message??e.message??"worker failed").replace(/^Uncaught (\(in promise\) )?/,""),stack:error?.stack}}function mayImport(urls,permissions){
if(permissions==="none")return false;
for(const href of urls){
const url=new URL(href);
if(url.protocol==="data:"||url.protocol==="blob:")continue;
const name=url.protocol==="file:"?"read":"import";
const given=permissions?.[name]??"inherit";
if(given!=="inherit"&&given!==true)return false;
const descriptor2=name==="read"?{
name,path:url}:{
name,host:url.host};
try{
if(Deno.permissions.querySync(descriptor2).state!=="granted")return false}catch{
return false}}return true}var IN_CHANNEL_WAIT_MS=25;
function waitOutOfChannel(word){
if(Atomics.load(word,0)===0)return;
const until=performance.now()+IN_CHANNEL_WAIT_MS;
while(Atomics.load(word,0)!==0&&performance.now()<until){
}}var REGISTRY_KEY=Symbol.for(`troupe.task.registry.v${_SHARED_STATE_VERSION}`);
var registry=(function registry(){
const g=globalThis;
return g[REGISTRY_KEY]??={
byModule:new Map,byTarget:new WeakMap,anonymous:new Map}});
var task=(function task(meta,target,name){
if(typeof meta?.url!=="string"){
throw new TypeError("task() needs the declaring module's import.meta as its first argument")}if(typeof target!=="function"){
throw new TypeError(`task() can only declare a function or a class, got ${_describe(target)}`)}if(name!==void 0&&(typeof name!=="string"||name.length===0)){
throw new TypeError(`task() name must be a non-empty string, got ${_describe(name)}`)}const reg=registry();
const existing=reg.byTarget.get(target);
if(existing){
throw new TypeError(`${label(target)} is already declared as task '${existing.key}' in ${existing.module}; declare each function or class once, at the top level of its module`)}const module=meta.url;
let key=name??target.name;
if(!key){
const n=reg.anonymous.get(module)??0;
reg.anonymous.set(module,n+1);
key=`#${n}`}let keys2=reg.byModule.get(module);
if(!keys2)reg.byModule.set(module,keys2=new Map);
if(keys2.has(key)){
throw new TypeError(`task name '${key}' is used twice in ${module}; pass a distinct name as task()'s third argument, e.g. task(import.meta, fn, "${key}2")`)}keys2.set(key,target);
reg.byTarget.set(target,{
module,key});
return target});
function _taskRef(target){
return registry().byTarget.get(target)}function _requireTaskRef(target,role){
if(typeof target!=="function"){
throw new TypeError(`${role} must be a function or class declared with task(), got ${_describe(target)}`)}const ref=_taskRef(target);
if(ref)return ref;
const id=target.name||"fn";
throw new TypeError(`${role} ${label(target)} was not declared with task(), so a worker cannot load it. Declare it at the top level of its module: `+(_isClass(target)?`task(import.meta, ${id});`:`const ${id} = task(import.meta, function ${id}(...) { ... });`))}var _resolveTask=(function _resolveTask(ref){
const target=registry().byModule.get(ref.module)?.get(ref.key);
if(target)return target;
throw new TypeError(`task '${ref.key}' was not found in ${ref.module} after the worker imported it. task(import.meta, ...) must run at the module's top level, not inside \`if (import.meta.main)\` or a function, so that importing the module declares it.`)});
function label(target){
const kind=_isClass(target)?"class":"function";
return target.name?`${kind} '${target.name}'`:`an anonymous ${kind}`}var TypedArray=Object.getPrototypeOf(Uint8Array);
var CLONEABLE=new Set([Date.prototype,RegExp.prototype,ArrayBuffer.prototype,SharedArrayBuffer.prototype,DataView.prototype,Boolean.prototype,Number.prototype,String.prototype,BigInt.prototype,Blob.prototype,File.prototype]);
var _WIRE=Symbol.for("troupe.wire");
var MARK="\0troupe.wire";
var REVIVERS_KEY=Symbol.for(`troupe.wire.revivers.v${_SHARED_STATE_VERSION}`);
var revivers=globalThis[REVIVERS_KEY]??(globalThis[REVIVERS_KEY]=new Map);
var _registerReviver=(function _registerReviver(kind,revive3){
revivers.set(kind,revive3)});
var _outbox=(function _outbox(){
return{
transfer:[],modules:new Set,wired:false,to:void 0,seen:void 0}});
function isErrorLike(value){
return value instanceof Error||value instanceof DOMException}var _prepare=(function _prepare(value,path,out){
return inert(value)?value:walk(value,path,out,out.seen??=new Map)});
var inert=(function inert(value){
const type=typeof value;
return value===null||type!=="object"&&type!=="function"&&type!=="symbol"});
function walk(value,path,out,seen){
if(typeof value!=="object"||value===null)return walkOther(value,path,out,seen);
const known=seen.get(value);
if(known!==void 0)return known;
seen.set(value,value);
let sent2=value;
const proto=Object.getPrototypeOf(value);
if(proto===Object.prototype||proto===null){
let copy;
for(const key of Object.keys(value)){
const item=value[key];
if(inert(item))continue;
const itemSent=walk(item,`${path}.${key}`,out,seen);
if(itemSent!==item)copy??={
...value};
if(copy)copy[key]=itemSent}if(copy)sent2=copy}else if(Array.isArray(value)){
let copy;
for(let i=0;
i<value.length;
i++){
const item=value[i];
if(inert(item))continue;
const itemSent=walk(item,`${path}[${i}]`,out,seen);
if(itemSent!==item)copy??=value.slice();
if(copy)copy[i]=itemSent}if(copy)sent2=copy}else sent2=walkOther(value,path,out,seen);
if(sent2!==value)seen.set(value,sent2);
return sent2}function walkOther(value,path,out,seen){
switch(typeof value){
case"function":throw new TypeError(`${path} is a ${_describe(value)}, which cannot be sent to a worker. Declare it with task() and import it there, or send plain data instead`);
case"symbol":throw new TypeError(`${path} is a ${_describe(value)}, which cannot be sent to a worker`);
case"object":break;
default:return value}if(value===null)return value;
if(value instanceof TypedArray||CLONEABLE.has(Object.getPrototypeOf(value)))return value;
if(isErrorLike(value))return value;
if(typeof value[_WIRE]==="function"){
const form=value[_WIRE](path,out);
out.modules.add(form.module);
for(const t of form.transfer??[])if(!out.transfer.includes(t))out.transfer.push(t);
out.wired=true;
return{
[MARK]:form.kind,module:form.module,state:form.state}}if(value instanceof MessagePort){
if(!out.transfer.includes(value))out.transfer.push(value);
return value}if(value instanceof Map){
let i=0;
let changed=false;
const entries=[];
for(const[k,v]of value){
const sk=walk(k,`${path}<key ${i}>`,out,seen);
const sv=walk(v,`${path}.get(${typeof k==="string"?JSON.stringify(k):`<key ${i}>`})`,out,seen);
changed||=sk!==k||sv!==v;
entries.push([sk,sv]);
i++}return changed?new Map(entries):value}if(value instanceof Set){
let i=0;
let changed=false;
const items=[];
for(const v of value){
const sv=walk(v,`${path}<item ${i++}>`,out,seen);
changed||=sv!==v;
items.push(sv)}return changed?new Set(items):value}if(value instanceof WeakMap||value instanceof WeakSet||value instanceof Promise){
throw new TypeError(`${path} is a ${_describe(value)}, which cannot be sent to a worker`)}throw new TypeError(`${path} is an instance of ${_describe(value).replace(/ object$/,"")}: sending it to a worker would drop its prototype, methods and private fields. Send a plain object or array with the data it needs instead`)}var _revive=(function _revive(value){
return revive(value,new Map)});
var revive=(function revive(value,seen){
if(typeof value!=="object"||value===null)return value;
const known=seen.get(value);
if(known!==void 0)return known;
seen.set(value,value);
if(Array.isArray(value)){
for(let i=0;
i<value.length;
i++)value[i]=revive(value[i],seen);
return value}if(value instanceof Map){
const entries=[...value].map(([k,v])=>[revive(k,seen),revive(v,seen)]);
value.clear();
for(const[k,v]of entries)value.set(k,v);
return value}if(value instanceof Set){
const items=[...value].map(v=>revive(v,seen));
value.clear();
for(const v of items)value.add(v);
return value}const proto=Object.getPrototypeOf(value);
if(proto!==Object.prototype&&proto!==null)return value;
if(MARK in value){
const{
[MARK]:kind,module,state:state3}=value;
const reviver=revivers.get(kind);
if(!reviver)throw new MissingReviver(kind,module);
const revived=reviver(state3);
seen.set(value,revived);
return revived}const record=value;
for(const key of Object.keys(record))record[key]=revive(record[key],seen);
return value});
var MissingReviver=class extends Error{
kind;
module;
constructor(kind,module){
super(`received a Troupe ${kind}, but this worker could not load ${module} to rebuild it (a worker with narrowed permissions can only use Troupe objects it was started with: pass them in args instead of a later message)`),this.kind=kind,this.module=module}};
async function _reviveLoading(value){
const missing=new Map;
findMissing(value,missing,new Set);
for(const[kind,module]of missing){
try{
await import(module)}catch{
}if(!revivers.has(kind))throw new MissingReviver(kind,module)}return _revive(value)}function findMissing(value,missing,seen){
if(typeof value!=="object"||value===null||seen.has(value))return;
seen.add(value);
if(value instanceof Map){
for(const[k,v]of value){
findMissing(k,missing,seen);
findMissing(v,missing,seen)}return}if(value instanceof Set||Array.isArray(value)){
for(const v of value)findMissing(v,missing,seen);
return}const proto=Object.getPrototypeOf(value);
if(proto!==Object.prototype&&proto!==null)return;
if(MARK in value){
const{
[MARK]:kind,module}=value;
if(!revivers.has(kind))missing.set(kind,module);
return}for(const v of Object.values(value))findMissing(v,missing,seen)}var Undeliverable=class{
error;
constructor(error){
this.error=error}};
var _Inbox=class{
#items=[];
#head=0;
#waiters=[];
#closed;
#pending;
#what;
constructor(what){
this.#what=what}get size(){
return this.#items.length-this.#head}push(item){
const waiter=this.#waiters.shift();
if(!waiter)this.#items.push(item);
else if(item instanceof Undeliverable)waiter.reject(item.error);
else waiter.resolve(item)}deliver(data,wired){
if(!wired&&this.#pending===void 0)return this.push(data);
const previous=this.#pending??Promise.resolve();
const next=previous.then(()=>wired?_reviveLoading(data):data).then(item=>this.push(item),error=>this.push(new Undeliverable(error))).finally(()=>{
if(this.#pending===next)this.#pending=void 0});
this.#pending=next}close(reason){
if(this.#pending){
void this.#pending.then(()=>this.close(reason));
return}this.#closed??=reason;
for(const waiter of this.#waiters.splice(0))waiter.reject(reason)}receive(options={
}){
const timeoutMs=_checkTimeout(options.timeoutMs,"receive() timeoutMs");
if(this.size>0){
const item=this.#items[this.#head];
this.#items[this.#head++]=void 0;
if(this.#head>1024&&this.#head*2>this.#items.length){
this.#items=this.#items.slice(this.#head);
this.#head=0}return item instanceof Undeliverable?Promise.reject(item.error):Promise.resolve(item)}if(this.#closed)return Promise.reject(this.#closed);
const{
signal}=options;
if(signal?.aborted)return Promise.reject(signal.reason);
return new Promise(((resolve,reject)=>{
let cancelTimer;
const waiter={
resolve:(v=>{
cleanup();
resolve(v)}),reject:e=>{
cleanup();
reject(e)}};
const drop=reason=>{
const i=this.#waiters.indexOf(waiter);
if(i>=0)this.#waiters.splice(i,1);
waiter.reject(reason)};
const onAbort=()=>drop(signal.reason);
const cleanup=(()=>{
cancelTimer?.();
signal?.removeEventListener("abort",onAbort)});
if(timeoutMs!==void 0){
cancelTimer=_after(timeoutMs,()=>drop(new DOMException(`no message for ${this.#what} within ${timeoutMs} ms`,"TimeoutError")))}signal?.addEventListener("abort",onAbort,{
once:true});
this.#waiters.push(waiter)}))}};
var EXIT_STATE=0;
var EXIT_CODE=1;
var EXIT_SENT=2;
var EXIT_CELL_BYTES=12;
var EXIT_RUNNING=0;
var EXIT_REPORTED=1;
var EXIT_UNWATCHED=2;
var EXIT_SEEN=3;
var EXIT_SEEN_WAIT_MS=50;
var TASK_SPREAD=1;
var TASK_WIRED=2;
var RESULT_VALUES=0;
var RESULT_ERROR=1;
var RESULT_NUMBERS=2;
var RESULT_IN_PLACE=3;
var states=new WeakMap;
var children=new Set;
var selfProcess;
var parentHandle;
var state=(function state(p){
const s=states.get(p);
if(!s){
throw new TypeError("this Process was not constructed (call super() in a subclass constructor)")}return s});
var newState=(function newState(role,name,daemon,pid2){
return{
role,identity:"",name,daemon,pid:pid2,target:void 0,args:[],permissions:"inherit",started:role!=="child",exitCode:null,error:null,endpoint:void 0,ended:Promise.withResolvers(),exitCell:void 0,inbox:void 0,up:void 0,sent:void 0,received:0}});
var Process=class Process{
constructor(options={
}){
if(typeof options!=="object"||options===null){
throw new TypeError(`Process options must be an object, got ${_describe(options)}`)}const{
target,args=[],name,daemon=false,permissions="inherit"}=options;
if(target!==void 0&&typeof target!=="function"){
throw new TypeError(`Process target must be a function declared with task(), got ${_describe(target)}`)}if(!Array.isArray(args)){
throw new TypeError(`Process args must be an array, got ${_describe(args)}`)}if(name!==void 0&&typeof name!=="string"){
throw new TypeError(`Process name must be a string, got ${_describe(name)}`)}if(typeof daemon!=="boolean"){
throw new TypeError(`Process daemon must be a boolean, got ${_describe(daemon)}`)}_normalizePermissions(permissions);
const identity=_nextIdentity();
const s=newState("child",name??`Process-${identity}`,daemon,void 0);
s.identity=identity;
s.target=target;
s.args=args;
s.permissions=permissions;
states.set(this,s)}get name(){
return state(this).name}set name(value){
if(typeof value!=="string"){
throw new TypeError(`Process name must be a string, got ${_describe(value)}`)}state(this).name=value}get daemon(){
return state(this).daemon}set daemon(value){
const s=state(this);
if(s.started)throw new Error(`cannot change daemon of ${s.name} after it started`);
s.daemon=Boolean(value)}get pid(){
return state(this).pid}get exitCode(){
const s=state(this);
if(s.role==="child")this.#poll(s);
return s.exitCode}get error(){
return state(this).error}run(){
const s=state(this);
return s.target?.(...s.args)}start(){
const s=state(this);
if(s.role!=="child"){
throw new Error(`${s.name} is ${s.role==="main"?"the main process":"already running"}; it cannot be started`)}if(s.started){
throw new Error(`${s.name} was already started; a process can be started only once, so create a new Process to run it again`)}_refuseWhileImporting(s.name);
const spec=this.#spec(s);
const perms=_normalizePermissions(s.permissions);
_assertApplicable(perms,`${s.name} permissions`);
const pid2=_nextPid();
const out=_outbox();
out.to=pid2;
if(spec.mode==="target"){
spec.args=spec.args.map((arg,i)=>_prepare(arg,`${s.name} args[${i}]`,out))}else{
for(const[key,value]of Object.entries(spec.fields)){
spec.fields[key]=_prepare(value,`${s.name} field '${key}'`,out)}}if(out.wired)spec.wired=true;
s.pid=pid2;
s.started=true;
s.inbox=new _Inbox(s.name);
const init=_initMessage({
name:s.name,pid:s.pid,daemon:s.daemon},s.identity,perms,spec);
const endpoint=_spawnWorker(s.name,[spec.task.module,...out.modules],perms,{
message:m=>this.#onMessage(s,m),error:e=>this.#end(s,1,e)});
s.endpoint=endpoint;
children.add(this);
const cell=new Int32Array(spec.exitCell);
this.#watchExitCell(s,cell);
const channel=new MessageChannel;
spec.up=channel.port2;
s.up=channel.port1;
s.sent=cell;
s.up.onmessage=e=>{
s.received++;
this.#onMessage(s,e.data);
if(s.exitCode!==null)this.#closeWhenRead(s)};
try{
endpoint.post(init,[...out.transfer,channel.port2])}catch(error){
this.#end(s,1,void 0);
throw new TypeError(`${s.name}'s arguments could not be sent to the worker: ${error.message}`)}}#spec(s){
const ctor=this.constructor;
if(ctor!==Process&&ctor.prototype.run!==Process.prototype.run){
const task3=_requireTaskRef(ctor,"Process subclass");
return{
kind:"process",exitCell:new SharedArrayBuffer(EXIT_CELL_BYTES),task:task3,mode:"subclass",args:[],fields:{
...this}}}if(s.target===void 0){
throw new TypeError(`${s.name} has nothing to run: pass new Process({ target, args }) with a target declared with task(), or subclass Process and override run()`)}const task2=_requireTaskRef(s.target,"Process target");
return{
kind:"process",exitCell:new SharedArrayBuffer(EXIT_CELL_BYTES),task:task2,mode:"target",args:[...s.args],fields:{
}}}#onMessage(s,message2){
if(Array.isArray(message2))return;
switch(message2.t){
case"mail":s.inbox?.deliver(message2.data,message2.wired);
break;
case"exit":this.#end(s,message2.code,message2.error);
break}}#poll(s){
const cell=s.exitCell;
if(cell&&Atomics.load(cell,EXIT_STATE)===EXIT_REPORTED){
this.#end(s,Atomics.load(cell,EXIT_CODE),void 0)}}#watchExitCell(s,cell){
s.exitCell=cell;
const wait2=Atomics.waitAsync(cell,EXIT_STATE,EXIT_RUNNING);
if(wait2.async)wait2.value.then(()=>this.#poll(s));
else this.#poll(s)}#end(s,code,error){
if(s.exitCode!==null)return;
s.exitCode=code;
if(error)s.error=new RemoteError(s.name,s.pid,error);
s.endpoint?.terminate();
this.#closeWhenRead(s);
children.delete(this);
s.ended.resolve();
const cell=s.exitCell;
if(cell){
s.exitCell=void 0;
const was=Atomics.compareExchange(cell,EXIT_STATE,EXIT_RUNNING,EXIT_UNWATCHED);
_after(0,()=>{
if(was===EXIT_REPORTED)Atomics.store(cell,EXIT_STATE,EXIT_SEEN);
Atomics.notify(cell,EXIT_STATE)})}}#closeWhenRead(s){
if(s.up&&s.received<Atomics.load(s.sent,EXIT_SENT))return;
s.up?.close();
s.up=void 0;
s.inbox?.close(new Error(`${s.name} has ended (exit code ${s.exitCode}); no more messages will come from it`))}async join(timeoutMs){
const s=state(this);
const limit=_checkTimeout(timeoutMs,"join() timeoutMs");
if(s.role!=="child"&&s.role!=="worker"){
throw new Error(`${s.name} cannot join itself or its parent`)}if(!s.started)throw new Error(`${s.name} cannot be joined before it is started`);
if(s.role==="child")this.#poll(s);
if(s.exitCode===null){
await(limit===void 0?s.ended.promise:_settledWithin(s.ended.promise,limit))}if(s.error)throw s.error;
return s.exitCode}isAlive(){
const s=state(this);
if(s.role==="worker")return s.exitCode===null;
if(s.role!=="child")return true;
this.#poll(s);
return s.started&&s.exitCode===null}terminate(){
if(!stopWorker(state(this),-15))this.#stop(-15)}kill(){
if(!stopWorker(state(this),-9))this.#stop(-9)}#stop(code){
const s=state(this);
if(s.role!=="child"){
throw new Error(`${s.name} cannot be stopped from here: it is not a child of this process`)}this.#poll(s);
if(!s.started||s.exitCode!==null)return;
this.#end(s,code,void 0)}send(message2){
const s=state(this);
if(s.role==="self"||s.role==="main"){
throw new Error(`${s.name} cannot send to itself; use parentProcess().send() to reach the parent`)}if(s.role==="worker"){
throw new Error(`cannot send to ${s.name}: it is a pool's worker; give it work through its pool`)}if(s.role==="child"&&(!s.started||s.exitCode!==null)){
throw new Error(`cannot send to ${s.name}: it is ${s.started?"no longer running":"not started"}`)}const out=_outbox();
out.to=s.pid;
const data=_prepare(message2,`message to ${s.name}`,out);
const mail=out.wired?{
t:"mail",data,wired:true}:{
t:"mail",data};
if(s.role==="parent")_context().postToParent(mail,out.transfer);
else s.endpoint.post(mail,out.transfer)}receive(options){
const s=state(this);
if(!s.inbox){
return Promise.reject(new Error(s.role==="child"?`${s.name} has not been started`:`${s.name} has no mailbox here`))}return s.inbox.receive(options)}async[Symbol.asyncDispose](){
const s=state(this);
if(s.role!=="child"&&s.role!=="worker"||!s.started)return;
this.terminate();
await s.ended.promise}};
_inspectable(Process,p=>{
const s=state(p);
const cell=s.exitCell;
const exitCode=cell&&Atomics.load(cell,EXIT_STATE)===EXIT_REPORTED?Atomics.load(cell,EXIT_CODE):s.exitCode;
const status=s.role!=="child"&&s.role!=="worker"||s.started&&exitCode===null?"started":s.started?"stopped":"initial";
return{
name:s.name,pid:s.pid,state:status,exitCode,...s.daemon?{
daemon:true}:{
}}});
var currentProcess=(function currentProcess(){
if(selfProcess)return selfProcess;
const ctx=_context();
selfProcess=Object.create(Process.prototype);
const s=newState(ctx.parent?"self":"main",ctx.self.name,ctx.self.daemon,ctx.self.pid);
states.set(selfProcess,s);
return selfProcess});
var parentProcess=(function parentProcess(){
const ctx=_context();
if(!ctx.parent)return null;
if(!parentHandle){
parentHandle=Object.create(Process.prototype);
states.set(parentHandle,newState("parent",ctx.parent.name,ctx.parent.daemon,ctx.parent.pid))}return parentHandle});
function activeChildren(){
return[...children]}function cpuCount(){
return navigator.hardwareConcurrency||1}var receive=(function receive(options){
return currentProcess().receive(options)});
async function*mailbox(){
while(true)yield await receive()}var _adoptSelf=(function _adoptSelf(p,inbox){
const ctx=_context();
const target=p??Object.create(Process.prototype);
const s=newState("self",ctx.self.name,ctx.self.daemon,ctx.self.pid);
s.inbox=inbox;
states.set(target,s);
selfProcess=target;
return target});
var _endChildren=(function _endChildren(all){
const own=[...children].filter(child=>state(child).role!=="worker");
for(const child of own){
if(all||child.daemon)child.terminate()}const left=own.filter(child=>state(child).exitCode===null);
if(left.length===0)return void 0;
return Promise.all(left.map(child=>state(child).ended.promise)).then(()=>{
})});
function stopWorker(s,code){
if(s.role!=="worker")return false;
if(s.exitCode===null)s.stop(code);
return true}function _poolWorkerProcess(name,pid2,stop){
const process=Object.create(Process.prototype);
const s=newState("worker",name,true,pid2);
s.stop=stop;
states.set(process,s);
children.add(process);
return{
process,end(code){
if(s.exitCode!==null)return;
s.exitCode=code;
children.delete(process);
s.ended.resolve()}}}var UNDEFINED=0;
var NULL=1;
var FALSE=2;
var TRUE=3;
var INT=4;
var FLOAT=5;
var ASCII=6;
var UTF8=7;
var ARRAY=8;
var OBJECT=9;
var BIGINT=10;
var DATE=11;
var MAP=12;
var SET=13;
var REGEXP=14;
var ARRAY_BUFFER=15;
var TYPED_ARRAY=16;
var DATA_VIEW=17;
var ERROR=18;
var BOXED=19;
var UTF16=20;
var MAX_DEPTH=256;
var TypedArray2=Object.getPrototypeOf(Uint8Array);
var TYPED_KINDS=[Int8Array,Uint8Array,Uint8ClampedArray,Int16Array,Uint16Array,Int32Array,Uint32Array,Float32Array,Float64Array,BigInt64Array,BigUint64Array];
var ERROR_TYPES={
Error,EvalError,RangeError,ReferenceError,SyntaxError,TypeError,URIError};
var encoder;
var decoder;
var buf=new Uint8Array(4096);
var view=new DataView(buf.buffer);
var pos=0;
var reserve=(function reserve(n){
if(pos+n<=buf.length)return;
let size=buf.length*2;
while(size<pos+n)size*=2;
const bigger=new Uint8Array(size);
bigger.set(buf.subarray(0,pos));
buf=bigger;
view=new DataView(buf.buffer)});
var _encode=(function _encode(value,owner,call){
pos=0;
try{
write(value,0)}catch(error){
if(!(error instanceof Refusal))throw error;
throw error.make(`${owner}.${call.replace("()","")} item${error.where.reverse().join("")}`)}return buf.subarray(0,pos)});
var Refusal=class{
make;
where;
constructor(make){
this.make=make;
this.where=[]}};
function addStep(step,error){
if(error instanceof Refusal&&error.where.length<32)error.where.push(step);
return error}var write=(function write(value,depth){
switch(typeof value){
case"number":if((value|0)===value&&!Object.is(value,-0)){
reserve(5);
buf[pos]=INT;
view.setInt32(pos+1,value,true);
pos+=5}else{
reserve(9);
buf[pos]=FLOAT;
view.setFloat64(pos+1,value,true);
pos+=9}return;
case"string":return writeString(value);
case"boolean":reserve(1);
buf[pos++]=value?TRUE:FALSE;
return;
case"undefined":reserve(1);
buf[pos++]=UNDEFINED;
return;
case"bigint":reserve(1);
buf[pos++]=BIGINT;
return writeString(value.toString());
case"object":if(value===null){
reserve(1);
buf[pos++]=NULL;
return}if(depth>=MAX_DEPTH){
throw new Refusal(()=>new RangeError(`a channel item nests deeper than ${MAX_DEPTH} levels or is circular; channels do not carry circular structures`))}return writeObject(value,depth+1);
default:throw new Refusal(path=>new TypeError(`${path} is a ${_describe(value)}, which a channel cannot carry; send plain data instead`))}});
var writeString=(function writeString(s){
const n=s.length;
reserve(5+n*3);
const start=pos;
pos+=5;
let i=0;
if(n<256){
for(;
i<n;
i++){
const c=s.charCodeAt(i);
if(c>=128)break;
buf[pos+i]=c}}if(i===n){
buf[start]=ASCII;
view.setUint32(start+1,n,true);
pos+=n;
return}if(!s.isWellFormed()){
buf[start]=UTF16;
view.setUint32(start+1,n*2,true);
for(let j=0;
j<n;
j++)view.setUint16(pos+j*2,s.charCodeAt(j),true);
pos+=n*2;
return}const{
written}=(encoder??=new TextEncoder).encodeInto(s,buf.subarray(pos));
buf[start]=UTF8;
view.setUint32(start+1,written,true);
pos+=written});
var writeObject=(function writeObject(value,depth){
if(Array.isArray(value)){
const n=value.length;
reserve(5);
buf[pos]=ARRAY;
view.setUint32(pos+1,n,true);
pos+=5;
let i=0;
try{
for(;
i<n;
i++)write(value[i],depth)}catch(error){
throw addStep(`[${i}]`,error)}return}const proto=Object.getPrototypeOf(value);
if(proto===Object.prototype||proto===null){
const keys2=Object.keys(value);
reserve(5);
buf[pos]=OBJECT;
view.setUint32(pos+1,keys2.length,true);
pos+=5;
for(const key of keys2){
writeString(key);
try{
write(value[key],depth)}catch(error){
throw addStep(`.${key}`,error)}}return}if(proto===Date.prototype){
reserve(9);
buf[pos]=DATE;
view.setFloat64(pos+1,value.getTime(),true);
pos+=9;
return}if(value instanceof Map){
writeCount(MAP,value.size);
let i=0;
for(const[k,v]of value){
try{
write(k,depth)}catch(error){
throw addStep(`<key ${i}>`,error)}try{
write(v,depth)}catch(error){
throw addStep(`<value ${i}>`,error)}i++}return}if(value instanceof Set){
writeCount(SET,value.size);
let i=0;
for(const v of value){
try{
write(v,depth)}catch(error){
throw addStep(`<item ${i}>`,error)}i++}return}if(proto===SharedArrayBuffer.prototype||ArrayBuffer.isView(value)&&value.buffer instanceof SharedArrayBuffer){
throw new Refusal(path=>new TypeError(`${path} is shared memory (a SharedArrayBuffer or a view of one), which a channel would copy instead of share; pass it to the process in args or send() instead`))}if(value instanceof TypedArray2){
const typed=value;
const kind=TYPED_KINDS.findIndex(T=>typed instanceof T);
if(kind>=0){
reserve(1);
buf[pos++]=TYPED_ARRAY;
reserve(1);
buf[pos++]=kind;
return writeBytes(new Uint8Array(typed.buffer,typed.byteOffset,typed.byteLength))}}if(proto===ArrayBuffer.prototype){
reserve(1);
buf[pos++]=ARRAY_BUFFER;
return writeBytes(new Uint8Array(value))}if(proto===DataView.prototype){
const dv=value;
reserve(1);
buf[pos++]=DATA_VIEW;
return writeBytes(new Uint8Array(dv.buffer,dv.byteOffset,dv.byteLength))}if(proto===RegExp.prototype){
reserve(1);
buf[pos++]=REGEXP;
writeString(value.source);
return writeString(value.flags)}if(value instanceof Error){
reserve(1);
buf[pos++]=ERROR;
writeString(value.name in ERROR_TYPES?value.name:"Error");
writeString(value.message);
write(typeof value.stack==="string"?value.stack:void 0,depth);
try{
write("cause"in value?value.cause:void 0,depth)}catch(error){
throw addStep(".cause",error)}return}if(proto===Boolean.prototype||proto===Number.prototype||proto===String.prototype||proto===BigInt.prototype){
reserve(1);
buf[pos++]=BOXED;
return write(value.valueOf(),depth)}if(typeof value[_WIRE]==="function"){
throw new Refusal(path=>new TypeError(`${path} is a ${_describe(value)}, which cannot travel inside a channel item; pass it to the process in args or send() instead`))}throw new Refusal(path=>new TypeError(`${path} is an instance of ${_describe(value).replace(/ object$/,"")}: a channel would drop its prototype, methods and private fields. Send a plain object or array with the data it needs instead`))});
function writeCount(tag,n){
reserve(5);
buf[pos]=tag;
view.setUint32(pos+1,n,true);
pos+=5}function writeBytes(bytes){
reserve(4+bytes.length);
view.setUint32(pos,bytes.length,true);
buf.set(bytes,pos+4);
pos+=4+bytes.length}var input=buf;
var inputView=view;
var at=0;
var _decode=(function _decode(bytes){
if(bytes.buffer!==input.buffer||bytes.byteOffset!==input.byteOffset){
inputView=new DataView(bytes.buffer,bytes.byteOffset)}input=bytes;
at=0;
try{
return read()}catch(error){
if(error instanceof CorruptItem)throw error;
throw new CorruptItem(`corrupt channel item: ${error.message}`)}});
var CorruptItem=class extends Error{
};
var readCount=(function readCount(){
const n=inputView.getUint32(at,true);
at+=4;
if(n>input.length-at){
throw new CorruptItem(`corrupt channel item: count ${n} at byte ${at-4}`)}return n});
var read=(function read(){
const tag=input[at++];
switch(tag){
case INT:{
const v=inputView.getInt32(at,true);
at+=4;
return v}case FLOAT:{
const v=inputView.getFloat64(at,true);
at+=8;
return v}case ASCII:case UTF8:case UTF16:return readString(tag);
case TRUE:return true;
case FALSE:return false;
case NULL:return null;
case UNDEFINED:return void 0;
case ARRAY:{
const n=readCount();
const out=new Array(n);
for(let i=0;
i<n;
i++)out[i]=read();
return out}case OBJECT:{
const n=readCount();
const out={
};
for(let i=0;
i<n;
i++){
const key=readKey();
out[key]=read()}return out}case BIGINT:return BigInt(readString(input[at++]));
case DATE:{
const v=inputView.getFloat64(at,true);
at+=8;
return new Date(v)}case MAP:{
const n=readCount();
const out=new Map;
for(let i=0;
i<n;
i++){
const k=read();
out.set(k,read())}return out}case SET:{
const n=readCount();
const out=new Set;
for(let i=0;
i<n;
i++)out.add(read());
return out}case TYPED_ARRAY:{
const T=TYPED_KINDS[input[at++]];
return new T(readBytes())}case ARRAY_BUFFER:return readBytes();
case DATA_VIEW:return new DataView(readBytes());
case REGEXP:{
const source=readString(input[at++]);
return new RegExp(source,readString(input[at++]))}case ERROR:{
const name=readString(input[at++]);
const message2=readString(input[at++]);
const stack=read();
const cause=read();
const error=cause===void 0?new(ERROR_TYPES[name]??Error)(message2):new(ERROR_TYPES[name]??Error)(message2,{
cause});
if(typeof stack==="string")error.stack=stack;
return error}case BOXED:return Object(read());
default:throw new Error(`corrupt channel item: unknown tag ${tag} at byte ${at-1}`)}});
var keys=new Map;
var readKey=(function readKey(){
const tag=input[at];
const n=inputView.getUint32(at+1,true);
if(tag!==ASCII||n>6)return readString(input[at++]);
let packed=n;
const start=at+5;
for(let i=0;
i<n;
i++)packed=packed*256+input[start+i];
let key=keys.get(packed);
if(key===void 0){
at++;
key=readString(tag);
if(keys.size<4096)keys.set(packed,key)}else at=start+n;
return key});
function readBytes(){
const n=inputView.getUint32(at,true);
at+=4;
const out=input.slice(at,at+n).buffer;
at+=n;
return out}var readString=(function readString(tag){
const n=inputView.getUint32(at,true);
at+=4;
const start=at;
at+=n;
if(tag===ASCII&&n<64){
let s="";
for(let i=start;
i<at;
i++)s+=String.fromCharCode(input[i]);
return s}if(tag===UTF16){
let s="";
for(let i=start;
i<at;
i+=2)s+=String.fromCharCode(inputView.getUint16(i,true));
return s}return(decoder??=new TextDecoder).decode(input.subarray(start,at))});
var LOCK=0;
var HEAD=1;
var TAIL=2;
var USED=3;
var COUNT=4;
var CLOSED=5;
var PUT_SEQ=6;
var TAKE_SEQ=7;
var TAKE_WAITERS=8;
var PUT_WAITERS=9;
var UNFINISHED=10;
var JOIN_WAITERS=11;
var READER_CLOSED=12;
var UNTRACKED=13;
var OWNER=14;
var SUSPECT=15;
var WRITTEN=-1;
var WRITERS=16;
var READERS=24;
var HOLDER_SLOTS=8;
var SIDES={
writer:{
base:WRITERS,untracked:1},reader:{
base:READERS,untracked:2}};
var HEADER_BYTES=128;
var _DEFAULT_BUFFER_BYTES=1<<20;
var _WOULD_WAIT=Symbol("would wait");
var _CLOSED=Symbol("closed");
var localWaiters=new WeakMap;
var localWaiterCount=0;
var wakeLocal=(function wakeLocal(buffer,word){
if(localWaiterCount===0)return;
const set=localWaiters.get(buffer)?.get(word);
if(set){
for(const wake of set)wake()}});
var addLocal=(function addLocal(buffer,word,wake){
let words2=localWaiters.get(buffer);
if(!words2)localWaiters.set(buffer,words2=new Map);
let set=words2.get(word);
if(!set)words2.set(word,set=new Set);
set.add(wake);
localWaiterCount++;
return(()=>{
set.delete(wake);
localWaiterCount--})});
var aliveAtEndings=-1;
var endingsWord;
var inChannel;
var NO_WORD=new Int32Array(0);
var inChannelWord=(function inChannelWord(){
const ctx=_context();
if(!_IN_WORKER)return inChannel=NO_WORD;
if(ctx.parent===void 0)return NO_WORD;
return inChannel=ctx.inChannel??NO_WORD});
var endedHere=(function endedHere(){
if(!_IN_WORKER)return false;
const endings=Atomics.load(endingsWord??endingsOfThisRun(),1);
if(endings===aliveAtEndings)return false;
if(!_isAlive(_context().self.pid))return true;
aliveAtEndings=endings;
return false});
var endingsOfThisRun=(function endingsOfThisRun(){
const word=_endingsWord();
if(_context().parent!==void 0)endingsWord=word;
return word});
function endedError(){
const{
name,pid:pid2}=_context().self;
return new Error(`${name} (pid ${pid2}) has ended: it was terminated, so it may not use channels any more`)}var LOCK_HELD_MAX_MS=1e3;
var ownPid=0;
var lock=(function lock(h){
let c=Atomics.compareExchange(h,LOCK,0,1);
if(c!==0){
for(let i=0;
i<200&&c!==0;
i++)c=Atomics.compareExchange(h,LOCK,0,1);
if(c!==0)lockSlow(h,c)}h[OWNER]=ownPid||pidOfThisThread()});
var pidOfThisThread=(function pidOfThisThread(){
const ctx=_context();
if(ctx.parent!==void 0||!_IN_WORKER)ownPid=ctx.self.pid;
return ctx.self.pid});
function lockSlow(h,c){
const since=performance.now();
let unowned=true;
if(c!==2)c=Atomics.exchange(h,LOCK,2);
while(c!==0){
Atomics.wait(h,LOCK,2,10);
c=Atomics.exchange(h,LOCK,2);
if(c===0)return;
const owner=Atomics.load(h,OWNER);
unowned&&=owner===0;
const long=performance.now()-since>LOCK_HELD_MAX_MS;
if(owner!==0&&!_isAlive(owner)||long&&unowned){
Atomics.compareExchange(h,SUSPECT,0,owner===0?WRITTEN:owner);
return}if(long){
throw new Error(`a channel's lock has been held for over ${LOCK_HELD_MAX_MS} ms by pid ${owner}, which is alive: no put or take holds it that long, so that process has written the channel's shared memory directly`)}}}var unlock=(function unlock(h){
h[OWNER]=0;
if(Atomics.sub(h,LOCK,1)!==1){
Atomics.store(h,LOCK,0);
Atomics.notify(h,LOCK,1)}if(inChannel!==void 0&&inChannel!==NO_WORD)Atomics.store(inChannel,0,0)});
function brokenError(h){
const suspect=Atomics.load(h,SUSPECT);
return new Error(suspect===WRITTEN||suspect===0?"a channel's shared memory is corrupt: a process wrote it directly, so its items cannot be trusted any more":`a channel's shared memory was left half-written by pid ${suspect}, which ended in the middle of a put or take; its items cannot be trusted any more`)}function checkWhole(h,w32,cap,fixed2){
const head=h[HEAD],tail=h[TAIL],used=h[USED],count2=h[COUNT];
const align=fixed2||4;
let whole=head>=0&&head<cap&&head%align===0&&tail>=0&&tail<cap&&tail%align===0&&used>=0&&used<=cap&&count2>=0;
if(whole&&fixed2>0)whole=used===count2*fixed2&&(head+used)%cap===tail;
else if(whole){
let at3=head,sum=0;
for(let i=0;
i<count2&&whole;
i++){
const n=w32[at3>>2];
const need=n+7&~3;
whole=n>=0&&sum+need<=used;
sum+=need;
at3=(at3+need)%cap}whole&&=sum===used&&at3===tail}if(whole)Atomics.store(h,SUSPECT,0);
else{
unlock(h);
throw brokenError(h)}}var lockLive=(function lockLive(h,w32,cap,fixed2){
lock(h);
const busy=inChannel??inChannelWord();
if(busy!==NO_WORD)Atomics.store(busy,0,1);
if(endedHere()){
unlock(h);
throw endedError()}if(h[SUSPECT]!==0)checkWhole(h,w32,cap,fixed2)});
function corrupt(h){
Atomics.compareExchange(h,SUSPECT,0,WRITTEN);
unlock(h);
throw brokenError(h)}var afterPut=(function afterPut(buffer,h){
Atomics.add(h,PUT_SEQ,1);
if(Atomics.load(h,TAKE_WAITERS)>0){
Atomics.notify(h,PUT_SEQ);
wakeLocal(buffer,PUT_SEQ)}});
var afterTake=(function afterTake(buffer,h){
Atomics.add(h,TAKE_SEQ,1);
if(Atomics.load(h,PUT_WAITERS)>0){
Atomics.notify(h,TAKE_SEQ);
wakeLocal(buffer,TAKE_SEQ)}});
var putRecord=(function putRecord(buffer,h,w32,data,maxsize,bytes,unfinished){
const cap=data.length;
const need=bytes.length+7&~3;
lockLive(h,w32,cap,0);
if(h[CLOSED]===1||h[READER_CLOSED]===1){
unlock(h);
return _CLOSED}if(maxsize>0&&h[COUNT]>=maxsize||cap-h[USED]<need){
unlock(h);
return false}let tail=h[TAIL];
if(!(tail>=0&&tail<cap&&(tail&3)===0&&h[USED]>=0))corrupt(h);
w32[tail>>2]=bytes.length;
tail+=4;
if(tail===cap)tail=0;
const first=cap-tail;
if(bytes.length<=first)data.set(bytes,tail);
else{
data.set(bytes.subarray(0,first),tail);
data.set(bytes.subarray(first),0)}tail=(tail+(bytes.length+3&~3))%cap;
h[TAIL]=tail;
h[USED]+=need;
h[COUNT]++;
if(unfinished)h[UNFINISHED]++;
unlock(h);
afterPut(buffer,h);
return true});
var takeRecord=(function takeRecord(buffer,h,w32,data,into){
const cap=data.length;
lockLive(h,w32,cap,0);
if(h[COUNT]===0||h[READER_CLOSED]===1){
const closed=h[CLOSED]===1||h[READER_CLOSED]===1;
unlock(h);
return closed?_CLOSED:_WOULD_WAIT}let head=h[HEAD];
if(!(head>=0&&head<cap&&(head&3)===0))corrupt(h);
const n=w32[head>>2];
if(!(n>=0&&n+4<=h[USED]))corrupt(h);
head+=4;
if(head===cap)head=0;
if(into.bytes.length<n)into.bytes=new Uint8Array(Math.max(n,into.bytes.length*2));
const first=cap-head;
if(n<=64&&n<=first){
const out=into.bytes;
for(let i=0;
i<n;
i++)out[i]=data[head+i]}else if(n<=first)into.bytes.set(data.subarray(head,head+n));
else{
into.bytes.set(data.subarray(head,cap));
into.bytes.set(data.subarray(0,n-first),first)}h[HEAD]=(head+(n+3&~3))%cap;
h[USED]-=n+7&~3;
h[COUNT]--;
unlock(h);
afterTake(buffer,h);
return n});
var _Ring=class{
buffer;
#h;
#data;
#w32;
#f64;
#cap;
#fixed;
#maxsize;
#aliveAt={
writer:-1,reader:-1};
constructor(buffer,codec,maxsize){
this.buffer=buffer;
this.#h=new Int32Array(buffer,0,HEADER_BYTES/4);
this.#cap=buffer.byteLength-HEADER_BYTES;
this.#data=new Uint8Array(buffer,HEADER_BYTES,this.#cap);
this.#w32=new Int32Array(buffer,HEADER_BYTES,this.#cap/4);
this.#f64=new Float64Array(buffer,HEADER_BYTES,this.#cap/8);
this.#fixed=codec==="f64"?8:codec==="i32"?4:0;
this.#maxsize=maxsize}static allocate(bytes){
return new SharedArrayBuffer(HEADER_BYTES+Math.ceil(bytes/8)*8)}get capacity(){
return this.#cap}get count(){
return Atomics.load(this.#h,COUNT)}get closed(){
return Atomics.load(this.#h,CLOSED)===1}get readerClosed(){
return Atomics.load(this.#h,READER_CLOSED)===1}get full(){
const h=this.#h;
const n=Atomics.load(h,COUNT);
if(this.#maxsize>0&&n>=this.#maxsize)return true;
return this.#cap-Atomics.load(h,USED)<(this.#fixed||8)}tryPut(bytes,unfinished){
return putRecord(this.buffer,this.#h,this.#w32,this.#data,this.#maxsize,bytes,unfinished)}tryTake(into){
return takeRecord(this.buffer,this.#h,this.#w32,this.#data,into)}tryPutNumbers(values,from,unfinished){
const h=this.#h;
const size=this.#fixed;
lockLive(h,this.#w32,this.#cap,size);
if(h[CLOSED]===1||h[READER_CLOSED]===1){
unlock(h);
return _CLOSED}let room=(this.#cap-h[USED])/size|0;
if(this.#maxsize>0)room=Math.min(room,this.#maxsize-h[COUNT]);
const n=Math.min(room,values.length-from);
if(n<=0){
unlock(h);
return 0}const tail=h[TAIL];
if(!(tail>=0&&tail<this.#cap&&tail%size===0&&h[USED]>=0))corrupt(h);
let slot2=tail/size;
const slots=this.#cap/size;
if(size===8){
const f64=this.#f64;
for(let i=0;
i<n;
i++){
f64[slot2++]=values[from+i];
if(slot2===slots)slot2=0}}else{
const w32=this.#w32;
for(let i=0;
i<n;
i++){
w32[slot2++]=values[from+i];
if(slot2===slots)slot2=0}}h[TAIL]=slot2*size;
h[USED]+=n*size;
h[COUNT]+=n;
if(unfinished)h[UNFINISHED]+=n;
unlock(h);
afterPut(this.buffer,h);
return n}tryTakeNumbers(out,max){
const h=this.#h;
const size=this.#fixed;
lockLive(h,this.#w32,this.#cap,size);
const n=Math.min(max,h[COUNT]);
if(n===0){
const closed=h[CLOSED]===1;
unlock(h);
return closed?_CLOSED:_WOULD_WAIT}const head=h[HEAD];
if(!(head>=0&&head<this.#cap&&head%size===0&&n*size<=h[USED]))corrupt(h);
let slot2=head/size;
const slots=this.#cap/size;
const src=size===8?this.#f64:this.#w32;
for(let i=0;
i<n;
i++){
out.push(src[slot2++]);
if(slot2===slots)slot2=0}h[HEAD]=slot2*size;
h[USED]-=n*size;
h[COUNT]-=n;
unlock(h);
afterTake(this.buffer,h);
return n}hold(side,pid2){
const h=this.#h;
const{
base,untracked}=SIDES[side];
if(pid2===0)return;
for(let i=base;
i<base+HOLDER_SLOTS;
i++)if(Atomics.load(h,i)===pid2)return;
for(let i=base;
i<base+HOLDER_SLOTS;
i++){
if(Atomics.compareExchange(h,i,0,pid2)===0)return}for(let i=base;
i<base+HOLDER_SLOTS;
i++){
const other=Atomics.load(h,i);
if(!_isAlive(other)&&Atomics.compareExchange(h,i,other,pid2)===other)return}Atomics.or(h,UNTRACKED,untracked)}tracked(side){
const h=this.#h;
const{
base,untracked}=SIDES[side];
if((Atomics.load(h,UNTRACKED)&untracked)!==0)return false;
for(let i=base;
i<base+HOLDER_SLOTS;
i++)if(Atomics.load(h,i)!==0)return true;
return false}holdersEnded(side){
const endings=_endings();
if(endings===this.#aliveAt[side])return void 0;
const h=this.#h;
const{
base,untracked}=SIDES[side];
const ended=[];
if((Atomics.load(h,UNTRACKED)&untracked)===0){
for(let i=base;
i<base+HOLDER_SLOTS;
i++){
const pid2=Atomics.load(h,i);
if(pid2===0)continue;
if(_isAlive(pid2)){
ended.length=0;
break}ended.push(pid2)}}if(ended.length>0)return ended;
this.#aliveAt[side]=endings;
return void 0}close(){
Atomics.store(this.#h,CLOSED,1);
this.#wakeAll()}closeReader(){
Atomics.store(this.#h,READER_CLOSED,1);
this.#wakeAll()}#wakeAll(){
const h=this.#h;
Atomics.add(h,PUT_SEQ,1);
Atomics.add(h,TAKE_SEQ,1);
for(const word of[PUT_SEQ,TAKE_SEQ,UNFINISHED]){
Atomics.notify(h,word);
wakeLocal(this.buffer,word)}}get unfinished(){
return Atomics.load(this.#h,UNFINISHED)}taskDone(){
const h=this.#h;
for(;
;
){
const n=Atomics.load(h,UNFINISHED);
if(n<=0)return false;
if(Atomics.compareExchange(h,UNFINISHED,n,n-1)===n){
if(n===1&&Atomics.load(h,JOIN_WAITERS)>0){
Atomics.notify(h,UNFINISHED);
wakeLocal(this.buffer,UNFINISHED)}return true}}}waitForTake(attempt,limits){
return waitAsync(this.buffer,this.#h,PUT_SEQ,TAKE_WAITERS,attempt,limits)}waitForPut(attempt,limits){
return waitAsync(this.buffer,this.#h,TAKE_SEQ,PUT_WAITERS,attempt,limits)}waitForJoin(limits){
const h=this.#h;
return waitAsync(this.buffer,h,UNFINISHED,JOIN_WAITERS,()=>Atomics.load(h,UNFINISHED)<=0?void 0:_WOULD_WAIT,limits)}waitForTakeSync(attempt,limits){
return waitSync(this.#h,PUT_SEQ,TAKE_WAITERS,attempt,limits)}waitForPutSync(attempt,limits){
return waitSync(this.#h,TAKE_SEQ,PUT_WAITERS,attempt,limits)}};
var FIRST_RECHECK_MS=50;
var LAST_RECHECK_MS=1e3;
var polled=(function polled(h,word,seen,spin){
if(spin.micros<=0)return false;
if(spin.skip>0){
spin.skip--;
return false}const until=performance.now()+spin.micros/1e3;
while(Atomics.load(h,word)===seen&&performance.now()<until);
if(Atomics.load(h,word)!==seen){
spin.misses=0;
return true}if(++spin.misses>=3){
spin.misses=0;
spin.skip=64}return false});
var waitAsync=(async function waitAsync(buffer,h,word,waiters,attempt,limits){
const{
signal,timeoutMs}=limits;
let stop;
let wake;
const halt=reason=>{
stop??={
reason};
wake?.();
Atomics.notify(h,word)};
const deadline=timeoutMs===void 0?void 0:performance.now()+timeoutMs;
const cancelTimer=timeoutMs===void 0||_IN_WORKER?void 0:_after(timeoutMs,()=>halt(limits.onTimeout()));
let recheckMs=FIRST_RECHECK_MS;
const onAbort=()=>halt(signal.reason);
signal?.addEventListener("abort",onAbort,{
once:true});
try{
for(;
;
){
const seen=Atomics.load(h,word);
const result=attempt();
if(result!==_WOULD_WAIT)return result;
if(stop)throw stop.reason;
const left=deadline===void 0?Infinity:deadline-performance.now();
if(_IN_WORKER&&left<=0)throw limits.onTimeout();
if(limits.spin&&polled(h,word,seen,limits.spin))continue;
Atomics.add(h,waiters,1);
const woken=Promise.withResolvers();
wake=woken.resolve;
const removeLocal=addLocal(buffer,word,wake);
const sleepMs=limits.recheck?.()?recheckMs:void 0;
if(sleepMs!==void 0)recheckMs=Math.min(recheckMs*2,LAST_RECHECK_MS);
const recheck=sleepMs===void 0||_IN_WORKER?void 0:setTimeout(wake,sleepMs);
const waitMs=_IN_WORKER?Math.min(sleepMs??Infinity,left):sleepMs;
try{
const wait2=Atomics.waitAsync(h,word,seen,waitMs);
if(wait2.async){
wait2.value.then(wake);
await woken.promise}}finally{
if(recheck!==void 0)clearTimeout(recheck);
wake=void 0;
removeLocal();
Atomics.sub(h,waiters,1)}}}finally{
cancelTimer?.();
signal?.removeEventListener("abort",onAbort)}});
function waitSync(h,word,waiters,attempt,limits){
if(!_IN_WORKER){
throw new Error(`${limits.what} blocks its thread, which the main thread must not do; use the async form (await) there, or call it inside a worker`)}const deadline=limits.timeoutMs===void 0?Infinity:performance.now()+limits.timeoutMs;
let recheckMs=FIRST_RECHECK_MS;
for(;
;
){
const seen=Atomics.load(h,word);
const result=attempt();
if(result!==_WOULD_WAIT)return result;
const left=deadline-performance.now();
if(left<=0)throw limits.onTimeout();
if(limits.spin&&polled(h,word,seen,limits.spin))continue;
Atomics.add(h,waiters,1);
try{
let sleepMs=left;
if(limits.recheck?.()){
sleepMs=Math.min(left,recheckMs);
recheckMs=Math.min(recheckMs*2,LAST_RECHECK_MS)}Atomics.wait(h,word,seen,sleepMs)}finally{
Atomics.sub(h,waiters,1)}}}var _timeoutOf=(function _timeoutOf(timeoutMs,owner,call){
return timeoutMs===void 0?void 0:_checkTimeout(timeoutMs,`${owner}.${call} timeoutMs`)});
function _validate(schema,value,what){
const result=schema["~standard"].validate(value);
if(result instanceof Promise)return result.then(r=>checked(r,what));
return checked(result,what)}function _validateSync(schema,value,what,call){
const result=_validate(schema,value,what);
if(result instanceof Promise){
result.catch(()=>{
});
throw new TypeError(`${call} cannot use this schema: it validates asynchronously; use the async form instead`)}return result}function checked(result,what){
if(result.issues){
const details=result.issues.map(issue=>{
const path=issue.path?.map(p=>typeof p==="object"?p.key:p).join(".");
return path?`${path}: ${issue.message}`:issue.message});
throw new TypeError(`${what} was refused by the schema: ${details.join("; ")}`)}return result.value}var Full=class extends Error{
constructor(message2){
super(message2);
this.name="Full"}};
var Empty=class extends Error{
constructor(message2){
super(message2);
this.name="Empty"}};
var EOFError=class extends Error{
constructor(message2){
super(message2);
this.name="EOFError"}};
var ChannelClosedError=class extends Error{
constructor(message2){
super(message2);
this.name="ChannelClosedError"}};
var KIND="troupe.Connection";
var building;
var Connection=class Connection{
#send;
#recv;
#schema;
#scratch={
bytes:new Uint8Array(256)};
#spin;
#closed=false;
#holding=false;
#watchWriters=(()=>this.#recv.tracked("writer"));
#watchReaders=()=>this.#send.tracked("reader");
static{
_inspectable(this,end=>({
readable:end.#recv!==void 0,writable:end.#send!==void 0,...end.#recv?{
unread:end.#recv.count}:{
},closed:end.closed}))}constructor(){
if(!building){
throw new TypeError("a Connection comes from Pipe(); it cannot be created with new")}const{
wire:wire2,schema,received}=building;
building=void 0;
this.#send=wire2.send?new _Ring(wire2.send,wire2.codec,0):void 0;
this.#recv=wire2.recv?new _Ring(wire2.recv,wire2.codec,0):void 0;
this.#schema=schema;
this.#spin={
micros:wire2.spinMicros,misses:0,skip:0};
if(received)this.#hold()}#hold(){
if(this.#holding)return;
this.#holding=true;
const pid2=_context().self.pid;
this.#send?.hold("writer",pid2);
this.#recv?.hold("reader",pid2)}withSchema(schema){
this.#checkOpen("withSchema()");
building={
wire:this.#wire(),schema,received:this.#holding};
return new Connection}get closed(){
return this.#closed||(this.#send?.closed??false)||(this.#recv?.readerClosed??false)}get writable(){
return this.#send!==void 0}get readable(){
return this.#recv!==void 0}#checkOpen(call){
if(this.closed)throw this.#selfClosed(call)}#selfClosed(call){
return new ChannelClosedError(`Connection.${call} on a connection that was closed`+(this.#closed?"":" in another process (close() closes an end for every holder)"))}#sender(call){
this.#checkOpen(call);
if(!this.#send){
throw new TypeError(`Connection.${call} on the receiving end of a one-way pipe: with Pipe({ duplex: false }) the first end only receives and the second only sends`)}return this.#send}#receiver(call){
this.#checkOpen(call);
if(!this.#recv){
throw new TypeError(`Connection.${call} on the sending end of a one-way pipe: with Pipe({ duplex: false }) the first end only receives and the second only sends`)}return this.#recv}#trySend(ring,value,call){
if(ring.closed)throw this.#selfClosed(call);
if(ring.readerClosed)throw this.#peerGone(call);
const ended=ring.holdersEnded("reader");
if(ended)throw this.#peerEnded(call,ended);
const bytes=_encode(value,"Connection",call);
if(bytes.length+4>ring.capacity){
throw new RangeError(`Connection.${call} item takes ${bytes.length+4} bytes, more than the pipe's ${ring.capacity}-byte buffer; create the pipe with a larger 'bufferBytes'`)}const r=ring.tryPut(bytes,false);
if(r===_CLOSED)throw ring.closed?this.#selfClosed(call):this.#peerGone(call);
return r}#peerGone(call){
return new ChannelClosedError(`Connection.${call}: the other end of the pipe was closed`)}#peerEnded(call,pids){
return new ChannelClosedError(`Connection.${call}: every process that held the other end of the pipe has ended (${pids.length===1?"pid":"pids"} ${pids.join(", ")}), so nothing would read this`)}async send(item,options={
}){
const ring=this.#sender("send()");
this.#hold();
const timeoutMs=_timeoutOf(options.timeoutMs,"Connection","send()");
options.signal?.throwIfAborted();
const value=this.#schema?await _validate(this.#schema,item,"Connection.send() item"):item;
if(this.#trySend(ring,value,"send()"))return;
await ring.waitForPut(()=>this.#trySend(ring,value,"send()")?void 0:_WOULD_WAIT,{
timeoutMs,signal:options.signal,recheck:this.#watchReaders,onTimeout:()=>new DOMException(`Connection.send() found the pipe full for ${timeoutMs} ms`,"TimeoutError")})}sendSync(item,options={
}){
const ring=this.#sender("sendSync()");
this.#hold();
const timeoutMs=_timeoutOf(options.timeoutMs,"Connection","sendSync()");
const value=this.#schema?_validateSync(this.#schema,item,"Connection.sendSync() item","sendSync()"):item;
ring.waitForPutSync(()=>this.#trySend(ring,value,"sendSync()")?void 0:_WOULD_WAIT,{
timeoutMs,what:"Connection.sendSync()",recheck:this.#watchReaders,onTimeout:()=>new DOMException(`Connection.sendSync() found the pipe full for ${timeoutMs} ms`,"TimeoutError")})}#take=(()=>{
const ring=this.#recv;
let r=ring.tryTake(this.#scratch);
if(r===_WOULD_WAIT){
const ended=ring.holdersEnded("writer");
if(!ended)return r;
r=ring.tryTake(this.#scratch);
if(r===_WOULD_WAIT){
throw new EOFError(`Connection.recv(): every process that held the other end has ended (${ended.length===1?"pid":"pids"} ${ended.join(", ")}) and nothing is left`)}}if(r===_CLOSED){
if(ring.readerClosed)throw this.#selfClosed("recv()");
throw new EOFError("Connection.recv(): the other end was closed and nothing is left")}return _decode(this.#scratch.bytes.subarray(0,r))});
async recv(options={
}){
const ring=this.#receiver("recv()");
this.#hold();
const timeoutMs=_timeoutOf(options.timeoutMs,"Connection","recv()");
options.signal?.throwIfAborted();
const item=this.#take();
if(item!==_WOULD_WAIT)return item;
return await ring.waitForTake(this.#take,{
timeoutMs,signal:options.signal,spin:this.#spin,recheck:this.#watchWriters,onTimeout:()=>new DOMException(`Connection.recv() got nothing within ${timeoutMs} ms`,"TimeoutError")})}recvSync(options={
}){
const ring=this.#receiver("recvSync()");
this.#hold();
const timeoutMs=_timeoutOf(options.timeoutMs,"Connection","recvSync()");
return ring.waitForTakeSync(this.#take,{
timeoutMs,what:"Connection.recvSync()",spin:this.#spin,recheck:this.#watchWriters,onTimeout:()=>new DOMException(`Connection.recvSync() got nothing within ${timeoutMs} ms`,"TimeoutError")})}async poll(timeoutMs=0){
const ring=this.#receiver("poll()");
const limit=_checkTimeout(timeoutMs,"Connection.poll() timeoutMs");
this.#hold();
const ready=()=>ring.count>0||ring.closed||ring.readerClosed||ring.holdersEnded("writer")?true:_WOULD_WAIT;
if(ready()===true||limit===0)return ready()===true;
try{
return await ring.waitForTake(ready,{
timeoutMs:limit,signal:void 0,recheck:this.#watchWriters,onTimeout:()=>new DOMException("poll","TimeoutError")})}catch(error){
if(error instanceof DOMException&&error.name==="TimeoutError")return false;
throw error}}close(){
if(this.#closed)return;
this.#closed=true;
this.#send?.close();
this.#recv?.closeReader()}#wire(){
return{
send:this.#send?.buffer??null,recv:this.#recv?.buffer??null,codec:"structured",spinMicros:this.#spin.micros}}[_WIRE](path){
if(this.closed){
throw new ChannelClosedError(`${path} is a closed Connection, which cannot be passed to another process`)}return{
kind:KIND,module:import.meta.url,state:this.#wire()}}};
function Pipe(options={
}){
const{
duplex=true,bufferBytes=_DEFAULT_BUFFER_BYTES,spinMicros=50,schema,replySchema}=options;
if(typeof spinMicros!=="number"||!(spinMicros>=0&&spinMicros<=1e6)){
throw new RangeError(`'spinMicros' must be a number from 0 to 1000000, got ${spinMicros}`)}if(!Number.isInteger(bufferBytes)||bufferBytes<64||bufferBytes>2**30){
throw new RangeError(`'bufferBytes' must be an integer from 64 to 2^30, got ${bufferBytes}`)}for(const[name,s]of[["schema",schema],["replySchema",replySchema]]){
if(s!==void 0&&typeof s?.["~standard"]?.validate!=="function"){
throw new TypeError(`'${name}' must be a Standard Schema validator (an object with ['~standard'].validate), such as a zod, valibot or arktype schema`)}}if(!duplex&&replySchema!==void 0){
throw new TypeError("'replySchema' is for duplex pipes; a one-way pipe's items use 'schema'")}const forward=_Ring.allocate(bufferBytes);
const codec="structured";
if(!duplex){
building={
wire:{
send:null,recv:forward,codec,spinMicros},schema:void 0};
const reader=new Connection;
building={
wire:{
send:forward,recv:null,codec,spinMicros},schema};
return[reader,new Connection]}const backward=_Ring.allocate(bufferBytes);
building={
wire:{
send:forward,recv:backward,codec,spinMicros},schema};
const first=new Connection;
building={
wire:{
send:backward,recv:forward,codec,spinMicros},schema:replySchema};
return[first,new Connection]}_registerReviver(KIND,(state3=>{
building={
wire:state3,schema:void 0,received:true};
return new Connection}));
var _OrderedSender=class{
#seq=0;
#pipe;
#port;
#empty;
constructor(pipe,port,empty){
this.#pipe=pipe;
this.#port=port;
this.#empty=empty}send(payload,transfer=[],byPort=false){
if(byPort||transfer.length>0){
this.#port({
t:"ordered",seq:this.#seq,payload},transfer);
this.#seq++;
return}const seq=this.#seq++;
this.#pipe.send([seq,payload]).catch(()=>{
try{
this.#port({
t:"ordered",seq,payload},[])}catch(error){
this.#port({
t:"ordered",seq,payload:this.#empty},[]);
throw error}})}};
var _InOrder=class{
#next=0;
#early=new Map;
#run;
constructor(run2){
this.#run=run2}take(seq,payload){
if(seq!==this.#next){
this.#early.set(seq,payload);
return}this.#run(payload);
for(let next=this.#early.get(++this.#next);
next!==void 0;
){
this.#early.delete(this.#next);
this.#run(next);
next=this.#early.get(++this.#next)}}async read(pipe){
try{
for(;
;
){
const[seq,payload]=await pipe.recv();
this.take(seq,payload)}}catch{
}}};
async function _drain(pipe,take2,more){
try{
while(more()&&await pipe.poll(0))take2(await pipe.recv())}catch{
}}var PIPE_BYTES=1<<18;
function _settlePacked(message2,settle){
if(typeof message2==="string"){
const values=JSON.parse(message2);
for(let i=0;
i<values.length;
i+=2){
const id=values[i];
if(id<0)settle(-id,void 0);
else settle(id,values[i+1])}return true}if(!Array.isArray(message2))return false;
for(let i=0;
i<message2.length;
i+=2)settle(message2[i],message2[i+1]);
return true}var RESOLVED=Promise.resolve();
var NONE=[];
var _JSON_MAX=64;
var _jsonExact=(function _jsonExact(value){
switch(typeof value){
case"number":return Number.isFinite(value)&&!Object.is(value,-0);
case"string":return value.length<=256;
case"boolean":return true;
case"object":return value===null;
default:return false}});
function plain(value){
return value===null||typeof value!=="object"&&typeof value!=="function"}var _ActorHandle=class{
name;
pid;
owner;
ready;
ended;
exit;
#state="starting";
#endpoint;
#mailbox;
#capacity;
#pending=new Map;
#nextId=1;
#batch=[];
#batchTransfer=[];
#batchWired=false;
#batchJson=true;
#batchSent;
#waiters=[];
#pumping=false;
#ready=Promise.withResolvers();
#ended=Promise.withResolvers();
#pipe;
#sender;
#reading=false;
#onEnd=new Set;
constructor(start){
this.name=start.name;
this.pid=start.pid;
this.ready=this.#ready.promise;
this.ended=this.#ended.promise;
this.#ready.promise.catch(()=>{
});
if("port"in start){
this.owner=false;
this.#capacity=0;
const port=start.port;
port.onmessage=e=>this.#onMessage(e.data);
this.#endpoint={
post:(message2,transfer)=>_post(port,message2,transfer),terminate:()=>{
port.postMessage({
t:"release"});
port.close()}};
this.#state="running";
this.#ready.resolve();
return}this.owner=true;
this.#mailbox=start.spec.mailbox?new Int32Array(start.spec.mailbox):void 0;
this.#capacity=start.spec.capacity;
const[mine,theirs]=Pipe({
bufferBytes:PIPE_BYTES});
this.#pipe=mine;
const out=_outbox();
start.spec.pipe=_prepare(theirs,`${start.name}'s call pipe`,out);
const worker=_spawnWorker(start.name,[...start.modules,...out.modules],start.permissions,{
message:m=>this.#onMessage(m),error:e=>this.#endAfterAnswers(1,e)});
this.#endpoint={
post:(message2,transfer)=>worker.post(message2,transfer),terminate:()=>worker.terminate()};
this.#sender=new _OrderedSender(mine,(message2,transfer)=>this.#endpoint.post(message2,transfer),[]);
const init=_initMessage({
name:start.name,pid:start.pid,daemon:true},start.identity,start.permissions,start.spec);
try{
worker.post(init,start.transfer)}catch(error){
this.#end(1,void 0,`could not be started: ${error.message}`);
throw new TypeError(`${start.name}'s arguments could not be sent to the worker: ${error.message}`)}}get alive(){
return this.#state!=="ended"}onEnd(listener){
if(this.exit){
listener(this.exit);
return()=>{
}}this.#onEnd.add(listener);
return()=>this.#onEnd.delete(listener)}send(method,args,wantReply,options){
if(this.#state==="ended"){
return Promise.reject(new ActorExited(this.name,this.pid,method,this.exit,false))}if(this.#state==="stopping"){
return Promise.reject(new ActorExited(this.name,this.pid,method,_exitReason(0,null,"is stopping and takes no new calls"),false))}let transfer=NONE;
let wired=false;
if(!args.every(plain)){
const out=_outbox();
if(this.owner)out.to=this.pid;
try{
args=_prepare(args,`${this.name}.${method}() args`,out)}catch(error){
return Promise.reject(error)}transfer=out.transfer;
wired=out.wired}if(options===void 0&&this.#reserve()){
const id=wantReply?this.#nextId++:0;
const sent2=this.#post(id,method,args,transfer,wired);
if(!wantReply)return sent2;
return new Promise((resolve,reject)=>this.#pending.set(id,{
method,resolve,reject}))}return this.#sendWithOptions(method,args,transfer,wired,wantReply,options??{
})}#sendWithOptions(method,args,transfer,wired,wantReply,options){
const{
signal,wait:wait2=true}=options;
let timeoutMs;
try{
timeoutMs=_checkTimeout(options.timeoutMs,"timeoutMs")}catch(error){
return Promise.reject(error)}if(signal?.aborted)return Promise.reject(signal.reason);
return new Promise((resolve,reject)=>{
let cancelTimer;
let waiter;
let id=0;
const cleanup=()=>{
cancelTimer?.();
signal?.removeEventListener("abort",onAbort)};
const fail=error=>{
cleanup();
if(waiter){
const i=this.#waiters.indexOf(waiter);
if(i>=0)this.#waiters.splice(i,1)}if(id!==0)this.#pending.delete(id);
reject(error)};
const onAbort=()=>fail(signal.reason);
const go=()=>{
waiter=void 0;
id=wantReply?this.#nextId++:0;
const sent2=this.#post(id,method,args,transfer,wired);
if(!wantReply){
cleanup();
return resolve(sent2)}this.#pending.set(id,{
method,resolve:value=>{
cleanup();
resolve(value)},reject:error=>{
cleanup();
reject(error)}})};
if(timeoutMs!==void 0){
cancelTimer=_after(timeoutMs,()=>{
const what=waiter?"found no room in its mailbox":"got no reply";
fail(new DOMException(`${this.name}.${method}() ${what} within ${timeoutMs} ms`,"TimeoutError"))})}signal?.addEventListener("abort",onAbort,{
once:true});
if(this.#reserve())return go();
if(!wait2)return fail(new MailboxFull(this.name,this.#capacity));
waiter={
method,go,fail};
this.#waiters.push(waiter);
void this.#pump()})}#reserve(){
const box=this.#mailbox;
if(!box)return true;
if(this.#waiters.length>0)return false;
return this.#tryAdd(box)}#tryAdd(box){
while(true){
const n=Atomics.load(box,0);
if(n>=this.#capacity)return false;
if(Atomics.compareExchange(box,0,n,n+1)===n)return true}}async#pump(){
if(this.#pumping)return;
this.#pumping=true;
const box=this.#mailbox;
while(this.#waiters.length>0&&this.#state!=="ended"){
if(this.#tryAdd(box)){
this.#waiters.shift().go();
continue}const n=Atomics.load(box,0);
if(n<this.#capacity)continue;
const result=Atomics.waitAsync(box,0,n,1e3);
if(result.async)await result.value}this.#pumping=false}#post(id,method,args,transfer,wired){
const batch=this.#batch;
if(batch.length===0)queueMicrotask(()=>this.#flush());
batch.push(id,method,args.length);
for(let i=0;
i<args.length;
i++)batch.push(args[i]);
for(const t of transfer)this.#batchTransfer.push(t);
if(wired)this.#batchWired=true;
if(this.#batchJson&&(wired||batch.length>_JSON_MAX||!_jsonExact(method)||!args.every(_jsonExact)))this.#batchJson=false;
if(id!==0)return RESOLVED;
return(this.#batchSent??=Promise.withResolvers()).promise}#postCalls(calls,wired,transfer,json=false){
const message2=json?JSON.stringify(calls):wired?{
t:"calls",calls,wired:true}:calls;
this.#sendOrdered(message2,transfer,wired)}#sendOrdered(payload,transfer=[],byPort=false){
if(!this.#sender)return this.#endpoint.post(payload,transfer);
this.#sender.send(payload,transfer,byPort);
if(!this.#reading&&this.#pending.size>0)void this.#read()}async#read(){
this.#reading=true;
try{
while(this.#pending.size>0&&this.#state!=="ended"){
this.#onMessage(await this.#pipe.recv())}}catch{
}finally{
this.#reading=false}}#endAfterAnswers(code,error){
const pipe=this.#pipe;
if(!pipe||this.#state==="ended")return this.#end(code,error);
void _drain(pipe,item=>this.#onMessage(item),()=>this.#state!=="ended").then(()=>this.#end(code,error))}#flush(){
const calls=this.#batch;
if(calls.length===0)return;
const transfer=this.#batchTransfer;
const wired=this.#batchWired;
const sent2=this.#batchSent;
const json=this.#batchJson;
this.#batch=[];
this.#batchTransfer=[];
this.#batchWired=false;
this.#batchJson=true;
this.#batchSent=void 0;
if(this.#state==="ended"){
const error=new ActorExited(this.name,this.pid,calls[1],this.exit,false);
sent2?.promise.catch(()=>{
});
return sent2?.reject(error)}try{
this.#postCalls(calls,wired,transfer,json);
return sent2?.resolve()}catch{
}let tellError;
for(let i=0;
i<calls.length;
i+=3+calls[i+2]){
const id=calls[i];
const method=calls[i+1];
try{
this.#postCalls(calls.slice(i,i+3+calls[i+2]),wired,transfer)}catch(error){
const failure=new TypeError(`${this.name}.${method}() could not be sent: ${error.message}`);
if(id===0)tellError??=failure;
else this.#settle(id,void 0,failure)}}if(tellError===void 0)sent2?.resolve();
else sent2?.reject(tellError)}#settle(id,value,error){
const pending=this.#pending.get(id);
if(!pending)return;
this.#pending.delete(id);
if(error===void 0)pending.resolve(value);
else pending.reject(error)}#onMessage(message2){
if(_settlePacked(message2,(id,value)=>this.#settle(id,value,void 0)))return;
switch(message2.t){
case"replies":{
const{
values,errors,wired}=message2;
for(let i=0;
i<values.length;
i+=2){
const id=values[i];
if(!wired)this.#settle(id,values[i+1],void 0);
else{
_reviveLoading(values[i+1]).then(v=>this.#settle(id,v,void 0),e=>this.#settle(id,void 0,e))}}for(const failure of errors??[]){
const method=this.#pending.get(failure.id)?.method??"a method";
this.#settle(failure.id,void 0,this.#rebuild(failure,method))}return}case"gone":{
const{
code,error,description}=message2.exit;
return this.#end(code,error,description)}case"actor-ready":if(this.#state==="starting")this.#state="running";
this.#ready.resolve();
return;
case"exit":return this.#endAfterAnswers(message2.code,message2.error)}}#rebuild(failure,method){
const{
error,exit,local}=failure;
if(exit){
const remote=exit.error?new RemoteError(this.name,this.pid,exit.error):null;
const reason=_exitReason(exit.code,remote,exit.description);
return new ActorExited(this.name,this.pid,method,reason,true)}if(local)return Object.assign(new Error(error.message),{
name:error.name});
return new RemoteError(this.name,this.pid,error)}#end(code,error,how){
if(this.#state==="ended")return;
this.#state="ended";
this.#endpoint.terminate();
this.#pipe?.close();
const remote=error?new RemoteError(this.name,this.pid,error):null;
const exit=_exitReason(code,remote,how);
this.exit=exit;
for(const[id,pending]of this.#pending){
this.#pending.delete(id);
pending.reject(new ActorExited(this.name,this.pid,pending.method,exit,true))}for(const waiter of this.#waiters.splice(0)){
waiter.fail(new ActorExited(this.name,this.pid,waiter.method,exit,false))}this.#ready.reject(remote??new Error(`${this.name} (pid ${this.pid}) ${exit.description} before it was ready`));
for(const listener of this.#onEnd)listener(exit);
this.#onEnd.clear();
this.#ended.resolve(exit)}async stop(timeoutMs){
if(this.#state==="ended")return this.exit;
if(this.#state!=="stopping"){
this.#state="stopping";
this.#flush();
for(const waiter of this.#waiters.splice(0)){
waiter.fail(new ActorExited(this.name,this.pid,waiter.method,_exitReason(0,null,"is stopping and takes no new calls"),false))}this.#sendOrdered({
t:"stop"})}if(timeoutMs===void 0)return await this.ended;
await _settledWithin(this.ended,timeoutMs);
if(this.alive){
this.#end(-15,void 0,`did not stop within ${timeoutMs} ms and was terminated`)}return this.exit}release(){
this.#end(0,void 0,"is out of reach here: this thread's reference to it was disposed")}terminate(code=-15){
this.#end(code,void 0)}};
function _wireExit(exit){
const wire2={
code:exit.code,normal:exit.normal,description:exit.description};
const error=exit.error;
if(error instanceof RemoteError){
wire2.error=_remoteToWire(error)}else if(error)wire2.error={
name:error.name,message:error.message,stack:error.stack};
return wire2}var selfStop;
var Actor=class{
onStart(){
}onStop(){
}stop(){
if(!selfStop){
throw new Error("Actor.stop() stops the actor from inside one of its methods; from outside, call ref.stop()")}selfStop()}};
var refs=new WeakMap;
function refState(ref){
const s=refs.get(ref);
if(!s)throw new TypeError("ActorRef objects come from spawn() or Supervisor.ref()");
return s}var ActorRef=class{
constructor(){
throw new TypeError("ActorRef objects come from spawn() or Supervisor.ref()")}get name(){
const s=refState(this);
return s.source.current()?.name??s.source.label}get pid(){
return refState(this).source.current()?.pid}isAlive(){
return refState(this).source.current()?.alive??false}get exitCode(){
return refState(this).source.current()?.exit?.code??null}with(options){
if(typeof options!=="object"||options===null){
throw new TypeError(`ActorRef.with() options must be an object, got ${_describe(options)}`)}_checkTimeout(options.timeoutMs,"timeoutMs");
if(options.signal!==void 0&&!(options.signal instanceof AbortSignal)){
throw new TypeError(`signal must be an AbortSignal, got ${_describe(options.signal)}`)}if(options.wait!==void 0&&typeof options.wait!=="boolean"){
throw new TypeError(`wait must be a boolean, got ${_describe(options.wait)}`)}const s=refState(this);
return _makeRef(s.source,{
...s.options,...options})}async stop(options={
}){
const limit=_checkTimeout(options.timeoutMs,"stop() timeoutMs");
await owned(this,"stop")?.stop(limit)}terminate(){
owned(this,"terminate")?.terminate(-15)}kill(){
owned(this,"kill")?.terminate(-9)}async[Symbol.asyncDispose](){
const handle=refState(this).source.current();
if(handle&&!handle.owner)return handle.release();
await this.stop({
timeoutMs:5e3})}};
_inspectable(ActorRef,ref=>({
name:ref.name,pid:ref.pid,alive:ref.isAlive(),exitCode:ref.exitCode}));
Object.defineProperty(ActorRef.prototype,_WIRE,{
value:function wire(path){
const{
source}=refState(this);
if(source.fixed&&!source.fixed.alive){
throw new TypeError(`${path} is a reference to ${source.label}, which ${source.fixed.exit.description}; only a reference to a running actor can be sent`)}const key=crypto.randomUUID();
const port=openBridge(key,source);
const state3={
keys:[...source.via??[],key],name:source.fixed?.name??source.label,pid:source.fixed?.pid,port};
return{
kind:"troupe.ActorRef",module:import.meta.url,state:state3,transfer:[port]}}});
function owned(ref,what){
const handle=refState(ref).source.current();
if(handle&&!handle.owner){
throw new Error(`cannot ${what} ${handle.name} through a reference received from another thread: only the thread that spawned it (or its supervisor) can end an actor`)}return handle}var bridges=new Map;
function openBridge(key,source){
const{
port1,port2}=new MessageChannel;
let open=true;
let reviving7=Promise.resolve();
let unwatch=()=>{
};
const close=()=>{
if(!open)return;
open=false;
unwatch();
bridges.delete(key);
port1.close()};
bridges.set(key,{
source,close});
unwatch=source.onGone(exit=>{
if(!open)return;
port1.postMessage({
t:"gone",exit:_wireExit(exit)});
close()});
const answer=(id,value,error)=>{
if(!open)return;
let message2;
if(error===void 0){
const out=_outbox();
try{
value=_prepare(value,"a value",out);
message2=out.wired?{
t:"replies",values:[id,value],wired:true}:[id,value];
return _post(port1,message2,out.transfer)}catch(e){
error=e}}const failure={
id,error:_toWireError(error)};
if(error instanceof ActorExited)failure.exit=_wireExit(error.reason);
else if(error instanceof RemoteError){
failure.error=_remoteToWire(error)}else failure.local=true;
port1.postMessage({
t:"replies",values:[],errors:[failure]})};
const serve=calls=>{
for(let i=0;
i<calls.length;
i+=3+calls[i+2]){
const id=calls[i];
const method=calls[i+1];
const args=calls.slice(i+3,i+3+calls[i+2]);
const handle=source.current();
const sent2=handle?handle.send(method,args,id!==0,void 0):sendLater(source,method,args,id!==0,void 0);
if(id===0)sent2.catch(()=>{
});
else sent2.then(v=>answer(id,v,void 0),e=>answer(id,void 0,e))}};
port1.onmessage=e=>{
const data=e.data;
const message2=typeof data==="string"?JSON.parse(data):data;
if(Array.isArray(message2)){
reviving7=reviving7.then(()=>serve(message2))}else if(message2.t==="calls"){
const calls=message2.calls;
reviving7=reviving7.then(()=>_reviveLoading(calls)).then(()=>serve(calls),error=>{
for(let i=0;
i<calls.length;
i+=3+calls[i+2]){
if(calls[i]!==0)answer(calls[i],void 0,error)}})}else if(message2.t==="release")close()};
return port2}_registerReviver("troupe.ActorRef",state3=>{
const{
keys:keys2,name,pid:pid2,port}=state3;
const home=keys2.map(key=>bridges.get(key)).find(bridge=>bridge!==void 0);
if(home){
port.postMessage({
t:"release"});
port.close();
return _makeRef(home.source)}const handle=new _ActorHandle({
name,pid:pid2,port});
return _makeRef({
...fixed(handle),via:keys2})});
function _refHandle(value){
return value instanceof ActorRef?refs.get(value)?.source.fixed:void 0}function _makeRef(source,options){
const ref=Object.create(ActorRef.prototype);
refs.set(ref,{
source,options});
Object.defineProperty(ref,"call",{
value:methods(source,options,true)});
Object.defineProperty(ref,"tell",{
value:methods(source,options,false)});
return ref}function methods(source,options,wantReply){
const cache=new Map;
const make=method=>(...args)=>{
const handle=source.current();
if(handle)return handle.send(method,args,wantReply,options);
return sendLater(source,method,args,wantReply,options)};
return new Proxy(Object.create(null),{
get(_,method){
if(typeof method!=="string"||method==="then")return void 0;
let fn=cache.get(method);
if(!fn)cache.set(method,fn=make(method));
return fn}})}async function sendLater(source,method,args,wantReply,options){
const started=performance.now();
const handle=await source.next(method,options?.signal,options?.timeoutMs);
let rest=options;
if(options?.timeoutMs!==void 0){
rest={
...options,timeoutMs:Math.max(0,options.timeoutMs-(performance.now()-started))}}return handle.send(method,args,wantReply,rest)}function fixed(handle){
return{
current:()=>handle,next:()=>Promise.resolve(handle),label:handle.name,fixed:handle,onGone:listener=>handle.onEnd(listener)}}async function spawn(actor,options={
}){
return _makeRef(fixed(await _spawnHandle(actor,options)))}async function _spawnHandle(actor,options){
_refuseWhileImporting(`an actor (${_describe(actor)})`);
if(typeof actor!=="function"||!(actor.prototype instanceof Actor)){
throw new TypeError(`spawn() needs a subclass of Actor, got ${_describe(actor)}: write \`class MyActor extends Actor { ... }\` and declare it with task(import.meta, MyActor)`)}if(typeof options!=="object"||options===null){
throw new TypeError(`spawn() options must be an object, got ${_describe(options)}`)}const{
args=[],name,permissions="inherit",mailbox:mailbox2={
}}=options;
const task2=_requireTaskRef(actor,"Actor class");
if(!Array.isArray(args)){
throw new TypeError(`spawn() args must be an array, got ${_describe(args)}`)}if(name!==void 0&&typeof name!=="string"){
throw new TypeError(`spawn() name must be a string, got ${_describe(name)}`)}const capacity=mailbox2.capacity??Infinity;
if(typeof capacity!=="number"||!(capacity===Infinity||Number.isInteger(capacity)&&capacity>=1)){
throw new RangeError(`mailbox.capacity must be a positive integer or Infinity, got ${String(capacity)}`)}const identity=_nextIdentity();
const actorName=name??`${actor.name||"Actor"}-${identity}`;
const perms=_normalizePermissions(permissions,`${actorName} permissions`);
_assertApplicable(perms,`${actorName} permissions`);
const pid2=_nextPid();
const out=_outbox();
out.to=pid2;
const sent2=args.map((arg,i)=>_prepare(arg,`${actorName} args[${i}]`,out));
const spec={
kind:"actor",task:task2,args:sent2,mailbox:capacity===Infinity?void 0:new SharedArrayBuffer(4),capacity:capacity===Infinity?0:capacity};
if(out.wired)spec.wired=true;
const handle=new _ActorHandle({
name:actorName,pid:pid2,identity,permissions:perms,spec,modules:[task2.module,...out.modules],transfer:out.transfer});
await handle.ready;
return handle}var _setSelfStop=(function _setSelfStop(stop){
selfStop=stop});
function _actorMethodError(actorName,instance,method){
const cls=Object.getPrototypeOf(instance)?.constructor?.name??"the actor";
return new TypeError(method in Actor.prototype?`${method}() belongs to Actor itself and cannot be called on ${actorName} by message`:`${cls} has no method '${method}' (called on ${actorName})`)}var LINK_BYTES=1<<18;
var SPIN_MICROS=50;
var _Link=class{
buffer;
#ring;
#scratch={
bytes:new Uint8Array(256)};
#spin={
micros:SPIN_MICROS,misses:0,skip:0};
static allocate(){
return _Ring.allocate(LINK_BYTES)}constructor(buffer){
this.buffer=buffer;
this.#ring=new _Ring(buffer,"structured",0)}trySend(message2){
let bytes;
try{
bytes=_encode(message2,"link","send()")}catch{
return false}if(bytes.length+4>this.#ring.capacity)return false;
return this.#ring.tryPut(bytes,false)===true}tryTake(){
const n=this.#ring.tryTake(this.#scratch);
return typeof n==="number"?_decode(this.#scratch.bytes.subarray(0,n)):_WOULD_WAIT}wait(attempt,recheck){
return this.#ring.waitForTake(attempt,{
timeoutMs:void 0,signal:void 0,onTimeout:()=>new Error("unreachable: a link wait has no timeout"),spin:this.#spin,recheck})}close(){
this.#ring.close()}get closed(){
return this.#ring.closed}};
function _chunkReader(iterable,chunksize){
const boxed=Object(iterable??{
});
if(!(Symbol.iterator in boxed||Symbol.asyncIterator in boxed)){
throw new TypeError(`expected an iterable or async iterable, got ${_describe(iterable)}`)}const it=Symbol.asyncIterator in boxed?iterable[Symbol.asyncIterator]():iterable[Symbol.iterator]();
let exhausted=false;
return async()=>{
const chunk=[];
while(!exhausted&&chunk.length<chunksize){
const next=await it.next();
if(next.done)exhausted=true;
else chunk.push(next.value)}return chunk.length>0?chunk:void 0}}function _positiveInt(value,what){
if(typeof value!=="number"||!Number.isInteger(value)||value<1){
throw new RangeError(`'${what}' must be a positive integer, got ${typeof value==="number"?value:_describe(value)}`)}return value}var QUEUED_MS=1;
var SHORT_MS=10;
var MAX_DEPTH2=512;
var _PACK_MIN=64;
var CLAIM_SLOTS=2*MAX_DEPTH2;
var TAKEN_BACK=-1;
var STUCK_MS=5;
var NO_TRANSFER=[];
var DEFAULT_IDLE_TIMEOUT_MS=1e3;
function _maxPoolSize(){
return Math.max(256,4*cpuCount())}function needsWalk(value){
const type=typeof value;
return type==="object"&&value!==null||type==="function"||type==="symbol"}function _packNumbers(items){
if(items.length<_PACK_MIN||!allNumbers(items))return void 0;
const packed=new Float64Array(new SharedArrayBuffer(items.length*8));
packed.set(items);
return packed}function allNumbers(items){
for(let i=0;
i<items.length;
i++)if(typeof items[i]!=="number")return false;
return true}var _PoolEngine=class _PoolEngine{
#settings;
#queue=[];
#head=0;
#queued=0;
#slots=new Set;
#modules=new Set;
#nextId=1;
#state="open";
#broken;
#idle=Promise.withResolvers();
#dispatchScheduled=false;
#taskModules=new Map;
#jobMs;
#balanceTimer;
#answers=new _Link(_Link.allocate());
#reading=false;
#byPid=new Map;
#idleSince=0;
#idleTimer;
#initArgs;
constructor(settings){
this.#settings=settings;
if(settings.initializer)this.#modules.add(settings.initializer.module);
_assertApplicable(settings.permissions,"Pool permissions");
const out=_outbox();
const args=settings.initArgs.map((arg,i)=>_prepare(arg,`initArgs[${i}]`,out));
if(out.transfer.length>0){
throw new TypeError("initArgs cannot hold a MessagePort: each worker would need its own. Pass a Troupe channel (Queue, Pipe) instead")}for(const m of out.modules)this.#modules.add(m);
this.#initArgs={
args,wired:out.wired}}static from(options,size,what){
_refuseWhileImporting(`a ${what}`);
const{
initializer,initArgs=[],maxTasksPerChild,permissions}=options;
const sizeName=what==="Pool"?"processes":"maxWorkers";
const processes=_positiveInt(size??cpuCount(),sizeName);
const most=_maxPoolSize();
if(processes>most){
throw new RangeError(`'${sizeName}' is ${processes}, above the limit of ${most} workers (max(256, 4 \xD7 cpuCount())): each worker is a thread with its own V8 heap. Ask for at most ${most}; a pool queues the jobs beyond its workers`)}const idleTimeoutMs=_checkTimeout(options.idleTimeoutMs??DEFAULT_IDLE_TIMEOUT_MS,"idleTimeoutMs");
if(maxTasksPerChild!==void 0)_positiveInt(maxTasksPerChild,"maxTasksPerChild");
if(!Array.isArray(initArgs)){
throw new TypeError(`'initArgs' must be an array, got ${_describe(initArgs)}`)}return new _PoolEngine({
size:processes,initializer:initializer===void 0?void 0:_requireTaskRef(initializer,`${what} initializer`),initArgs,maxTasksPerChild,permissions:_normalizePermissions(permissions,`${what} permissions`),idleTimeoutMs})}get size(){
return this.#settings.size}summary(){
let pending=this.#queued;
for(const slot2 of this.#slots)pending+=slot2.inflight.size;
const state3=this.#state==="open"?this.#broken?"broken":"running":this.#state;
return{
state:state3,pending}}enqueue(ref,calls,spread,options,done){
const refuse=error=>{
done(error);
return{
}};
if(this.#state!=="open"){
return refuse(new Error(`Pool is ${this.#state}; it takes no new tasks`))}if(this.#broken)return refuse(this.#broken);
let out;
let packed=calls instanceof Float64Array?calls:void 0;
const items=calls;
const at3=options.first??0;
try{
if(packed){
}else if(spread){
const many=items.length>1||options.first!==void 0;
for(let i=0;
i<items.length;
i++){
const args=items[i];
if(!Array.isArray(args)){
throw new TypeError(`${many?`item ${at3+i}`:"args"} must be an array of arguments, got ${_describe(args)}`)}let copy;
for(let j=0;
j<args.length;
j++){
const arg=args[j];
if(!needsWalk(arg))continue;
const sent2=_prepare(arg,many?`item ${at3+i} args[${j}]`:`args[${j}]`,out??=_outbox());
if(sent2!==arg)(copy??=args.slice())[j]=sent2}if(copy)items[i]=copy}}else if(!(packed=_packNumbers(items))){
for(let i=0;
i<items.length;
i++){
const item=items[i];
if(needsWalk(item))items[i]=_prepare(item,`item ${at3+i}`,out??=_outbox())}}}catch(error){
return refuse(error)}const{
signal}=options;
let timeoutMs;
try{
timeoutMs=_checkTimeout(options.timeoutMs,"timeoutMs");
if(signal!==void 0&&!(signal instanceof AbortSignal)){
throw new TypeError(`signal must be an AbortSignal, got ${_describe(signal)}`)}}catch(error){
return refuse(error)}if(signal?.aborted)return refuse(signal.reason);
let modules=this.#taskModules.get(ref.module);
if(!modules)this.#taskModules.set(ref.module,modules=[ref.module]);
if(out&&out.modules.size>0)modules=[ref.module,...out.modules];
const job={
id:this.#nextId++,claim:-1,ref,calls:packed??calls,spread,wired:out?.wired??false,numeric:packed!==void 0,modules,transfer:out?.transfer??NO_TRANSFER,done,slot:void 0,settled:false,cleanup:void 0};
if(signal||timeoutMs!==void 0){
let cancelTimer;
const onAbort=()=>this.#cancel(job,signal.reason);
job.cleanup=()=>{
cancelTimer?.();
signal?.removeEventListener("abort",onAbort)};
if(timeoutMs!==void 0){
cancelTimer=_after(timeoutMs,()=>this.#cancel(job,new DOMException(`task '${ref.key}' did not finish within ${timeoutMs} ms`,"TimeoutError")))}signal?.addEventListener("abort",onAbort,{
once:true})}for(const m of modules)this.#modules.add(m);
this.#queue.push(job);
this.#queued++;
this.#scheduleDispatch();
return job}started(handle){
const job=handle;
return!job.settled&&job.slot!==void 0&&Atomics.load(job.slot.claims,job.claim)===0}cancelIfNotStarted(handle,reason){
return this.#cancel(handle,reason,false)}#takeBack(slot2,job){
if(Atomics.compareExchange(slot2.claims,job.claim,job.id,TAKEN_BACK)!==job.id){
return false}slot2.inflight.delete(job.id);
slot2.sent--;
job.slot=void 0;
return true}#settle(job,error,values){
if(job.settled)return;
job.settled=true;
job.cleanup?.();
job.done(error,values)}#cancel(job,reason,stopRunning=true){
if(job.settled)return false;
const slot2=job.slot;
if(!slot2){
this.#queued--}else if(!this.#takeBack(slot2,job)){
if(!stopRunning)return false;
this.#takeAnswers();
if(job.settled)return false;
const{
started,waiting}=this.#retire(slot2,-15);
for(const other of started){
if(other===job)continue;
this.#settle(other,new Error(`${slot2.name} (pid ${slot2.pid}) was ended to stop task '${job.ref.key}' before it sent the result of task '${other.ref.key}'`))}this.#requeue(waiting)}this.#settle(job,reason);
this.#scheduleDispatch();
this.#checkIdle();
return true}#requeue(jobs2){
if(jobs2.length===0)return;
for(const job of jobs2)job.slot=void 0;
this.#queue.splice(this.#head,0,...jobs2);
this.#queued+=jobs2.length}#scheduleDispatch(){
if(this.#dispatchScheduled)return;
this.#dispatchScheduled=true;
queueMicrotask(()=>{
this.#dispatchScheduled=false;
this.#dispatch()})}#depth(){
const ms=this.#jobMs;
if(ms===void 0)return 1;
const least=ms<SHORT_MS?2:1;
return Math.max(least,Math.min(MAX_DEPTH2,Math.floor(QUEUED_MS/Math.max(ms,1e-4))))}#accepts(slot2,job,depth){
if(slot2.ended||slot2.stuck||slot2.inflight.size>=depth)return false;
const max=this.#settings.maxTasksPerChild;
if(max!==void 0&&slot2.sent>=max)return false;
for(const m of job.modules)if(!slot2.modules.has(m))return false;
return true}#dispatch(){
const batches=new Map;
const depth=this.#depth();
while(this.#queued>0&&this.#state!=="terminated"&&!this.#broken){
const job=this.#queue[this.#head];
if(job.settled){
this.#shift();
continue}let slot2;
for(const s of this.#slots){
if(this.#accepts(s,job,depth)&&(!slot2||s.inflight.size<slot2.inflight.size)){
slot2=s}}if(!slot2){
if(this.#slots.size<this.#settings.size)slot2=this.#spawn();
else{
const stale=[...this.#slots].find(s=>s.inflight.size===0&&job.modules.some(m=>!s.modules.has(m)));
if(!stale)break;
this.#retire(stale);
slot2=this.#spawn()}}this.#shift();
this.#queued--;
job.slot=slot2;
if(slot2.inflight.size===0)slot2.heardAt=performance.now();
slot2.inflight.set(job.id,job);
slot2.sent++;
let batch=batches.get(slot2);
if(!batch)batches.set(slot2,batch=[]);
batch.push(job)}if(this.#head>1024&&this.#head*2>this.#queue.length){
this.#queue=this.#queue.slice(this.#head);
this.#head=0}for(const[slot2,jobs2]of batches)this.#send(slot2,jobs2);
if(this.#queued===0)this.#balance()}#balance(){
if(this.#balanceTimer!==void 0){
this.#balanceTimer();
this.#balanceTimer=void 0}if(this.#state==="terminated"||this.#broken||this.#queued>0)return;
let waiting=false;
let free2=this.#slots.size<this.#settings.size;
for(const s of this.#slots){
if(s.stuck)continue;
if(s.inflight.size>=2)waiting=true;
else if(s.inflight.size===0)free2=true}if(!waiting||!free2)return;
const now=performance.now();
const after=Math.max(STUCK_MS,4*(this.#jobMs??0));
let next=Infinity;
const moved=[];
for(const s of this.#slots){
if(s.stuck||s.inflight.size<2)continue;
if(s.heardAt+after>now){
next=Math.min(next,s.heardAt+after);
continue}const head=s.inflight.values().next().value;
if(Atomics.load(s.claims,head.claim)!==0){
next=Math.min(next,now+STUCK_MS);
continue}const before=moved.length;
for(const job of s.inflight.values()){
if(job.transfer.length===0&&this.#takeBack(s,job))moved.push(job)}if(moved.length>before)s.stuck=true}if(moved.length>0){
this.#requeue(moved);
this.#scheduleDispatch()}else if(next!==Infinity){
this.#balanceTimer=_after(next-now,()=>{
this.#balanceTimer=void 0;
this.#balance()})}}#shift(){
this.#queue[this.#head++]=void 0;
if(this.#head===this.#queue.length){
this.#queue.length=0;
this.#head=0}}#send(slot2,jobs2){
if(!this.#post(slot2,jobs2)){
for(const job of jobs2)if(!job.settled)this.#post(slot2,[job])}}#post(slot2,jobs2){
const refs2=[];
const index=[];
for(const job of jobs2){
let ref=refs2.indexOf(job.ref);
if(ref<0)ref=refs2.push(job.ref)-1;
index.push(ref)}const message2=["T",refs2.length];
for(const ref of refs2)message2.push(ref.module,ref.key);
const transfer=[];
let shared=false;
for(let i=0;
i<jobs2.length;
i++){
const job=jobs2[i];
const flags=(job.spread?TASK_SPREAD:0)|(job.wired?TASK_WIRED:0);
job.claim=slot2.nextClaim;
slot2.nextClaim=(slot2.nextClaim+1)%CLAIM_SLOTS;
Atomics.store(slot2.claims,job.claim,job.id);
message2.push(job.id,index[i],flags,job.claim,job.calls);
for(const t of job.transfer)transfer.push(t);
if(job.numeric)shared=true}if(transfer.length===0&&!shared&&slot2.jobs.trySend(message2)){
this.#readAnswers();
return true}try{
slot2.endpoint.post(message2,transfer);
this.#readAnswers();
return true}catch(error){
if(jobs2.length>1)return false;
const job=jobs2[0];
slot2.inflight.delete(job.id);
slot2.sent--;
this.#settle(job,new TypeError(`task arguments could not be sent: ${error.message}`));
return true}}#spawn(){
const identity=_nextIdentity();
const name=`PoolWorker-${identity}`;
const pid2=_nextPid();
const modules=new Set(this.#modules);
const claims2=new Int32Array(new SharedArrayBuffer(CLAIM_SLOTS*4));
const jobs2=new _Link(_Link.allocate());
const slot2={
endpoint:void 0,name,pid:pid2,process:void 0,modules,ready:false,inflight:new Map,sent:0,ended:false,claims:claims2,jobs:jobs2,nextClaim:0,heardAt:0,stuck:false};
slot2.process=_poolWorkerProcess(name,pid2,code=>{
this.#takeAnswers();
this.#onDeath(slot2,code,void 0)});
slot2.endpoint=_spawnWorker(name,[...modules],this.#settings.permissions,{
message:m=>this.#onMessage(slot2,m),error:e=>{
this.#takeAnswers();
this.#onDeath(slot2,1,e,true)}});
const init=_initMessage({
name,pid:pid2,daemon:true},identity,this.#settings.permissions,{
kind:"pool",claims:claims2.buffer,jobs:jobs2.buffer,answers:this.#answers.buffer,initializer:this.#settings.initializer,initArgs:this.#initArgs.args,wired:this.#initArgs.wired});
slot2.endpoint.post(init);
this.#slots.add(slot2);
this.#byPid.set(pid2,slot2);
return slot2}#onMessage(slot2,message2){
if(Array.isArray(message2))return this.#onResults(slot2,message2);
switch(message2.t){
case"ready":slot2.ready=true;
return;
case"exit":this.#takeAnswers();
return this.#onDeath(slot2,message2.code,message2.error)}}#takeAnswers(){
let any=false;
for(let m=this.#answers.tryTake();
m!==_WOULD_WAIT;
m=this.#answers.tryTake()){
any=true;
const message2=m;
const slot2=this.#byPid.get(message2[2]);
if(slot2&&!slot2.ended)this.#onResults(slot2,message2)}return any}#readAnswers(){
if(this.#reading)return;
this.#reading=true;
const read3=()=>{
this.#takeAnswers();
if(this.#state!=="terminated"&&this.#busy())return _WOULD_WAIT;
this.#reading=false;
return void 0};
this.#answers.wait(read3,()=>true).catch(error=>{
this.#reading=false;
reportError(error)})}#onResults(slot2,message2){
slot2.heardAt=performance.now();
slot2.stuck=false;
const busyMs2=message2[1];
const count2=(message2.length-3)/3;
if(count2>0&&busyMs2>0){
const sample=busyMs2/count2;
this.#jobMs=this.#jobMs===void 0?sample:this.#jobMs*.7+sample*.3}for(let i=3;
i<message2.length;
i+=3){
const id=message2[i];
const job=slot2.inflight.get(id);
if(!job)continue;
slot2.inflight.delete(id);
const code=message2[i+1];
const payload=message2[i+2];
if(code===RESULT_ERROR){
this.#settle(job,new RemoteError(slot2.name,slot2.pid,payload))}else if(code===RESULT_IN_PLACE){
this.#settle(job,void 0,job.calls)}else if(code===RESULT_NUMBERS){
this.#settle(job,void 0,payload)}else this.#settle(job,void 0,payload)}const max=this.#settings.maxTasksPerChild;
if(max!==void 0&&slot2.sent>=max&&slot2.inflight.size===0)this.#retire(slot2);
this.#scheduleDispatch();
this.#checkIdle()}#onDeath(slot2,code,error,unloaded=false){
if(slot2.ended)return;
const{
started,waiting}=this.#retire(slot2,code);
const initFailed=!slot2.ready&&this.#settings.initializer&&(code!==0||error);
if(initFailed||unloaded&&error){
this.#broken=error?new RemoteError(slot2.name,slot2.pid,{
...error,message:`${initFailed?"initializer failed":"a worker failed to start"}: ${error.message}`}):new Error(`${slot2.name}: the pool initializer ended the worker (exit code ${code})`);
for(const job of[...started,...waiting,...this.#queue.splice(this.#head)]){
this.#settle(job,this.#broken)}this.#queued=0;
this.#checkIdle();
return}const how=error?`${error.name}: ${error.message}`:`exit code ${code}`;
started.forEach((job,i)=>{
const what=i===started.length-1?`died while running task '${job.ref.key}'`:`died before sending the result of task '${job.ref.key}'`;
this.#settle(job,new Error(`${slot2.name} (pid ${slot2.pid}) ${what} (${how}); the pool replaced it`))});
const movable=waiting.filter(job=>job.transfer.length===0);
for(const job of waiting){
if(job.transfer.length===0)continue;
this.#settle(job,new Error(`${slot2.name} (pid ${slot2.pid}) died (${how}) before it started task '${job.ref.key}', whose arguments had moved MessagePorts (or Troupe objects holding them) into it; they ended with it, so the call cannot run on another worker. Submit it again`))}this.#requeue(movable);
this.#scheduleDispatch();
this.#checkIdle()}#retire(slot2,code=0){
const started=[];
const waiting=[];
if(slot2.ended)return{
started,waiting};
slot2.ended=true;
slot2.endpoint.terminate();
slot2.process.end(code);
this.#slots.delete(slot2);
this.#byPid.delete(slot2.pid);
for(const job of[...slot2.inflight.values()]){
if(this.#takeBack(slot2,job))waiting.push(job);
else started.push(job)}slot2.inflight.clear();
return{
started,waiting}}#busy(){
if(this.#queued>0)return true;
for(const s of this.#slots)if(s.inflight.size>0)return true;
return false}#checkIdle(){
if(this.#state==="open"){
if(this.#settings.idleTimeoutMs!==void 0&&!this.#busy())this.#restLater();
return}if(this.#state==="terminated"||this.#busy())return;
for(const slot2 of[...this.#slots])this.#retire(slot2);
this.#stopTimers();
this.#answers.close();
this.#idle.resolve()}#restLater(){
const ms=this.#settings.idleTimeoutMs;
if(this.#slots.size===0)return;
this.#idleSince=performance.now();
this.#idleTimer??=_after(ms,()=>this.#rest(ms))}#rest(ms){
this.#idleTimer=void 0;
if(this.#state!=="open"||this.#busy()||this.#slots.size===0)return;
const left=this.#idleSince+ms-performance.now();
if(left>0){
this.#idleTimer=_after(left,()=>this.#rest(ms));
return}for(const slot2 of[...this.#slots])this.#retire(slot2);
this.#balance()}#stopTimers(){
this.#balance();
this.#idleTimer?.();
this.#idleTimer=void 0}close(){
if(this.#state!=="open")return;
this.#state="closed";
queueMicrotask(()=>this.#checkIdle())}terminate(error=new Error("Pool was terminated before the task finished")){
if(this.#state==="terminated")return;
this.#state="terminated";
const jobs2=this.#queue.splice(this.#head);
this.#queued=0;
for(const slot2 of[...this.#slots]){
const{
started,waiting}=this.#retire(slot2,-15);
jobs2.push(...started,...waiting)}for(const job of jobs2)this.#settle(job,error);
this.#stopTimers();
this.#answers.close();
this.#idle.resolve()}join(){
if(this.#state==="open"){
return Promise.reject(new Error("Pool.join() needs close() or terminate() first"))}return this.#idle.promise}};
var settleResult;
var watchResult;
var AsyncResult=class{
#state="pending";
#outcome;
#deferred;
#callbacks;
static{
_inspectable(this,result=>({
state:result.#state}));
settleResult=(result,error,value)=>result.#settle(error,value);
watchResult=(result,callbacks)=>{
if(callbacks.callback||callbacks.errorCallback)result.#callbacks=callbacks}}constructor(promise){
promise?.then(value=>this.#settle(void 0,value),error=>this.#settle(error))}#settle(error,value){
if(this.#state!=="pending")return;
const callbacks=this.#callbacks;
this.#callbacks=void 0;
if(error===void 0){
this.#state="fulfilled";
this.#outcome=value;
this.#deferred?.resolve(value);
if(callbacks?.callback)invoke(callbacks.callback,value)}else{
this.#state="rejected";
this.#outcome=error;
this.#deferred?.reject(error);
if(callbacks?.errorCallback)invoke(callbacks.errorCallback,error)}}#promise(){
if(this.#state==="fulfilled")return Promise.resolve(this.#outcome);
if(this.#state==="rejected")return Promise.reject(this.#outcome);
return(this.#deferred??=Promise.withResolvers()).promise}async get(timeoutMs){
await this.wait(timeoutMs);
if(this.#state==="pending"){
throw new DOMException(`result not ready within ${timeoutMs} ms`,"TimeoutError")}return this.#promise()}async wait(timeoutMs){
const ms=_checkTimeout(timeoutMs,"wait() timeoutMs");
if(this.#state==="pending")await _settledWithin(this.#promise(),ms)}ready(){
return this.#state!=="pending"}successful(){
if(this.#state==="pending")throw new Error("AsyncResult is not ready yet");
return this.#state==="fulfilled"}then(onfulfilled,onrejected){
return this.#promise().then(onfulfilled,onrejected)}};
var Pool=class{
#engine;
static{
_inspectable(this,pool=>({
processes:pool.#engine.size,...pool.#engine.summary()}))}constructor(options={
}){
this.#engine=_PoolEngine.from(options,options.processes,"Pool")}get processes(){
return this.#engine.size}#enqueue(fn,calls,spread,options,done){
let ref;
try{
ref=_requireTaskRef(fn,"Pool task")}catch(error){
return done(error)}this.#engine.enqueue(ref,calls,spread,options,done)}#call(fn,calls,spread,options){
return new Promise((resolve,reject)=>{
this.#enqueue(fn,calls,spread,options,(error,values)=>{
if(error===void 0)resolve(values);
else reject(error)})})}apply(fn,args,options={
}){
return new Promise((resolve,reject)=>{
this.#enqueue(fn,[args],true,options,(error,values)=>{
if(error===void 0)resolve(values[0]);
else reject(error)})})}applyAsync(fn,args,options={
}){
const result=new AsyncResult;
watchResult(result,options);
this.#enqueue(fn,[args],true,options,(error,values)=>{
settleResult(result,error,values?.[0])});
return result}map(fn,iterable,options={
}){
return this.#mapChunks(fn,listOf(iterable),false,options)}mapAsync(fn,iterable,options={
}){
const result=new AsyncResult;
watchResult(result,options);
this.map(fn,iterable,options).then(values=>settleResult(result,void 0,values),error=>settleResult(result,error));
return result}starmap(fn,iterable,options={
}){
return this.#mapChunks(fn,listOf(iterable),true,options)}async#mapChunks(fn,calls,spread,options){
if(calls.length===0)return[];
if(spread){
const i=calls.findIndex(args=>!Array.isArray(args));
if(i>=0){
throw new TypeError(`item ${i} must be an array of arguments, got ${_describe(calls[i])}`)}}const chunksize=options.chunksize===void 0?Math.ceil(calls.length/(this.#engine.size*4)):_positiveInt(options.chunksize,"chunksize");
const n=calls.length;
const packed=!spread&&chunksize>=_PACK_MIN?_packNumbers(calls):void 0;
const{
promise,resolve,reject}=Promise.withResolvers();
let values;
let pending=Math.ceil(n/chunksize);
let failedAt=n;
let failure;
for(let at3=0;
at3<n;
at3+=chunksize){
const end=Math.min(at3+chunksize,n);
const chunk=packed?packed.subarray(at3,end):calls.slice(at3,end);
this.#enqueue(fn,chunk,spread,{
...options,first:at3},(error,chunkValues)=>{
if(error!==void 0){
if(at3<failedAt){
failedAt=at3;
failure=error}}else if(failedAt===n){
values??=valuesArray(n,chunkValues);
copyInto(values,at3,chunkValues)}if(--pending>0)return;
if(failedAt<n)reject(failure);
else resolve(values)})}return await promise}imap(fn,iterable,options={
}){
return this.#imap(fn,iterable,options,true)}imapUnordered(fn,iterable,options={
}){
return this.#imap(fn,iterable,options,false)}async*#imap(fn,iterable,options,ordered){
const chunksize=options.chunksize===void 0?1:_positiveInt(options.chunksize,"chunksize");
const window=Math.max(this.#engine.size*4,64);
const read3=_chunkReader(iterable,chunksize);
let exhausted=false;
let first=0;
const inFlight=[];
const finished=[];
let wake;
const pull=async()=>{
while(!exhausted&&inFlight.length<window){
const chunk=await read3();
if(!chunk){
exhausted=true;
break}const entry={
promise:this.#call(fn,chunk,false,{
...options,first}),done:false};
first+=chunk.length;
const settle=outcome=>{
entry.done=true;
finished.push(outcome);
wake?.()};
entry.promise.then(values=>settle({
values}),error=>settle({
error}));
inFlight.push(entry)}};
await pull();
while(inFlight.length>0){
let values;
if(ordered){
const head=inFlight.shift();
values=await head.promise}else{
while(finished.length===0)await new Promise(r=>wake=r);
const first2=finished.shift();
inFlight.splice(inFlight.findIndex(e=>e.done),1);
if(first2.error!==void 0)throw first2.error;
values=first2.values}if(ordered)finished.length=0;
await pull();
yield*values}}close(){
this.#engine.close()}terminate(){
this.#engine.terminate()}join(){
return this.#engine.join()}async[Symbol.asyncDispose](){
this.terminate();
await this.join()}};
function listOf(iterable){
const plain3=Array.isArray(iterable)&&iterable[Symbol.iterator]===Array.prototype[Symbol.iterator];
return plain3?iterable:Array.from(iterable)}function valuesArray(n,first){
if(!(first instanceof Float64Array))return new Array(n);
const values=[.5];
values.length=n;
return values}function copyInto(values,at3,chunk){
for(let i=0;
i<chunk.length;
i++)values[at3+i]=chunk[i]}function invoke(callback,value){
try{
callback(value)}catch(error){
reportError(error)}}var CancelledError=class extends Error{
constructor(message2="the future was cancelled"){
super(message2);
this.name="CancelledError"}};
var internals=new WeakMap;
var NO_JOB={
};
function inside(future){
const it=internals.get(future);
if(!it)throw new TypeError("not a Future made by ProcessPoolExecutor.submit()");
return it}var Future=class extends Promise{
static get[Symbol.species](){
return Promise}constructor(executor){
super(executor)}cancel(){
const it=inside(this);
if(it.state==="cancelled")return true;
if(it.state!=="pending"||!it.engine.cancelIfNotStarted(it.job,new CancelledError)){
return false}it.state="cancelled";
return true}cancelled(){
return inside(this).state==="cancelled"}running(){
const it=inside(this);
return it.state==="pending"&&it.engine.started(it.job)}done(){
const{
state:state3}=inside(this);
return state3==="finished"||state3==="cancelled"}result(timeoutMs){
const limit=_checkTimeout(timeoutMs,"result() timeoutMs");
if(limit===void 0)return Promise.resolve(this);
return _settledWithin(this,limit).then(()=>{
if(!this.done()){
throw new DOMException(`the future was not done within ${timeoutMs} ms`,"TimeoutError")}return this})}async exception(timeoutMs){
try{
await this.result(timeoutMs);
return void 0}catch(error){
if(!this.done()||this.cancelled())throw error;
return error}}addDoneCallback(fn){
const it=inside(this);
if(this.done())runCallback(fn,this);
else(it.callbacks??=[]).push(fn)}};
function runCallback(fn,future){
try{
fn(future)}catch(error){
reportError(error)}}var ProcessPoolExecutor=class{
#engine;
#pending=new Set;
#shutdown=false;
static{
_inspectable(this,executor=>{
const{
state:state3,pending}=executor.#engine.summary();
return{
maxWorkers:executor.#engine.size,state:executor.#shutdown?"shutdown":state3,pending}})}constructor(options={
}){
this.#engine=_PoolEngine.from(options,options.maxWorkers,"ProcessPoolExecutor")}get maxWorkers(){
return this.#engine.size}submit(fn,...args){
return this.#submit(fn,[args],true,{
},"submit")}with(options){
return{
submit:(fn,...args)=>this.#submit(fn,[args],true,options,"submit")}}#submit(fn,calls,spread,options,what){
if(this.#shutdown){
throw new Error(`cannot ${what}() after shutdown(): the executor takes no new calls`)}const ref=_requireTaskRef(fn,"ProcessPoolExecutor task");
let resolve;
let reject;
const future=new Future((res,rej)=>{
resolve=res;
reject=rej});
const it={
state:"pending",failed:false,engine:this.#engine,job:NO_JOB,callbacks:void 0};
internals.set(future,it);
this.#pending.add(future);
it.job=this.#engine.enqueue(ref,calls,spread,options,(error,values)=>{
if(error===void 0){
it.state="finished";
resolve(spread?values[0]:values)}else{
if(it.state!=="cancelled"){
it.state="finished";
it.failed=true}future.catch(()=>{
});
reject(error)}this.#pending.delete(future);
const callbacks=it.callbacks;
it.callbacks=void 0;
if(callbacks){
for(const cb of callbacks)runCallback(cb,future)}});
return future}async*map(fn,iterable,options={
}){
const timeoutMs=_checkTimeout(options.timeoutMs,"map() timeoutMs");
const chunksize=_positiveInt(options.chunksize??1,"chunksize");
const buffersize=options.buffersize===void 0?Infinity:_positiveInt(options.buffersize,"buffersize");
const{
signal}=options;
const deadline=timeoutMs===void 0?void 0:performance.now()+timeoutMs;
const read3=_chunkReader(iterable,chunksize);
const futures=[];
let exhausted=false;
let first=0;
const fill=async()=>{
while(!exhausted&&futures.length<buffersize){
const chunk=await read3();
if(!chunk){
exhausted=true;
break}const future=this.#submit(fn,chunk,false,{
signal,first},"map");
first+=chunk.length;
future.catch(()=>{
});
futures.push(future)}};
try{
await fill();
while(futures.length>0){
const head=futures[0];
const values=deadline===void 0?await head:await head.result(Math.max(0,deadline-performance.now()));
futures.shift();
await fill();
yield*values}}finally{
for(const future of futures)future.cancel()}}async shutdown(options={
}){
const{
wait:wait2=true,cancelFutures=false}=options;
this.#shutdown=true;
if(cancelFutures){
for(const future of this.#pending)future.cancel()}this.#engine.close();
if(wait2){
await this.#engine.join();
await Promise.allSettled([...this.#pending])}}[Symbol.asyncDispose](){
return this.shutdown({
wait:true})}};
function failed(future){
return inside(future).failed}function wait(futures,options={
}){
const{
returnWhen="ALL_COMPLETED"}=options;
const timeoutMs=_checkTimeout(options.timeoutMs,"wait() timeoutMs");
if(!["FIRST_COMPLETED","FIRST_EXCEPTION","ALL_COMPLETED"].includes(returnWhen)){
throw new TypeError(`'returnWhen' must be "FIRST_COMPLETED", "FIRST_EXCEPTION" or "ALL_COMPLETED", got ${_describe(returnWhen)}`)}const all=[...new Set(futures)];
all.forEach(f=>inside(f));
const split=()=>{
const done=new Set;
const notDone=new Set;
for(const f of all)(f.done()?done:notDone).add(f);
return{
done,notDone}};
const met=()=>{
if(all.every(f=>f.done()))return true;
if(returnWhen==="FIRST_COMPLETED")return all.some(f=>f.done());
if(returnWhen==="FIRST_EXCEPTION")return all.some(f=>failed(f));
return false};
if(met()||timeoutMs===0)return Promise.resolve(split());
return new Promise(resolve=>{
let cancelTimer;
let finished=false;
const check=()=>{
if(finished||!met())return;
finished=true;
cancelTimer?.();
resolve(split())};
if(timeoutMs!==void 0){
cancelTimer=_after(timeoutMs,()=>{
finished=true;
resolve(split())})}for(const f of all)f.addDoneCallback(check)})}async function*asCompleted(futures,options={
}){
const timeoutMs=_checkTimeout(options.timeoutMs,"asCompleted() timeoutMs");
const deadline=timeoutMs===void 0?void 0:performance.now()+timeoutMs;
const all=[...new Set(futures)];
all.forEach(f=>inside(f));
const ready=[];
let wake;
all.forEach((future,index)=>{
future.then(value=>ready.push({
status:"fulfilled",value,future,index}),reason=>ready.push({
status:"rejected",reason,future,index})).then(()=>wake?.())});
for(let left=all.length;
left>0;
left--){
while(ready.length===0){
const woke=new Promise(resolve=>wake=resolve);
if(deadline===void 0){
await woke;
continue}let cancel;
const timedOut=await Promise.race([woke.then(()=>false),new Promise(resolve=>cancel=_after(Math.max(0,deadline-performance.now()),()=>resolve(true)))]);
cancel();
if(timedOut&&ready.length===0){
throw new DOMException(`${left} of the futures were not done within ${timeoutMs} ms`,"TimeoutError")}}yield ready.shift()}}var LockHolderDiedError=class extends Error{
holderPid;
constructor(kind,holderPid){
super(`this ${kind} is held by process ${holderPid}, which has ended without releasing it; check the data it guards, then call release() to free it`);
this.name="LockHolderDiedError";
this.holderPid=holderPid}};
var BrokenBarrierError=class extends Error{
constructor(message2){
super(message2);
this.name="BrokenBarrierError"}};
var ManagerStoppedError=class extends Error{
manager;
constructor(manager,how,call){
super(`${call} cannot reach its manager: ${manager} ${how}. Proxies only work while their manager runs`);
this.name="ManagerStoppedError";
this.manager=manager}};
function _waitOptions(options,what){
if(options===void 0)return{
deadline:Infinity,signal:void 0};
if(typeof options!=="object"||options===null){
throw new TypeError(`${what} options must be an object, got ${_describe(options)}`)}const timeoutMs=_checkTimeout(options.timeoutMs,`${what} timeoutMs`);
const{
signal}=options;
if(signal!==void 0&&!(signal instanceof AbortSignal)){
throw new TypeError(`${what} signal must be an AbortSignal, got ${_describe(signal)}`)}return{
deadline:timeoutMs===void 0?Infinity:performance.now()+timeoutMs,signal}}function _syncWaitOptions(options,what){
_assertMayBlock(what);
if(options===void 0)return Infinity;
if(typeof options!=="object"||options===null){
throw new TypeError(`${what} options must be an object, got ${_describe(options)}`)}if("signal"in options){
throw new TypeError(`${what} cannot take a signal: a blocked thread cannot see it abort. Use timeoutMs, or the async form, which takes a signal`)}const timeoutMs=_checkTimeout(options.timeoutMs,`${what} timeoutMs`);
return timeoutMs===void 0?Infinity:performance.now()+timeoutMs}var MAIN_THREAD=!_IN_WORKER;
function _assertMayBlock(what){
if(MAIN_THREAD){
const async=what.replace(/Sync\(\)$/,"()");
throw new Error(`${what} blocks its thread, so it is refused on the main thread (it would freeze the event loop). Use \`await ${async}\` there; ${what} is for code running in a worker`)}}function _remaining(deadline){
return deadline===Infinity?Infinity:Math.max(0,deadline-performance.now())}function _timeoutError(what,timeoutMs){
return new DOMException(`${what} timed out${timeoutMs===void 0?"":` after ${timeoutMs} ms`}`,"TimeoutError")}var noop=()=>{
};
var KEEP_ALIVE_MAX_MS=1<<30;
function _waitAsync(i32,index,expected,ms,signal){
if(signal?.aborted)throw signal.reason;
const r=Atomics.waitAsync(i32,index,expected,ms);
if(!r.async)return r.value;
return new Promise((resolve,reject)=>{
let abandoned=false;
const keepAlive=MAIN_THREAD?setInterval(noop,Math.min(ms+5,KEEP_ALIVE_MAX_MS)):void 0;
const onAbort=()=>{
abandoned=true;
if(keepAlive!==void 0)clearInterval(keepAlive);
reject(signal.reason)};
signal?.addEventListener("abort",onAbort,{
once:true});
r.value.then(result=>{
if(abandoned){
if(result==="ok")Atomics.notify(i32,index,1);
return}if(keepAlive!==void 0)clearInterval(keepAlive);
signal?.removeEventListener("abort",onAbort);
resolve(result)})})}function _waitSync(i32,index,expected,ms){
return Atomics.wait(i32,index,expected,ms)}var pid=0;
function _myPid(){
if(pid!==0)return pid;
const ctx=_context();
if(ctx.parent!==void 0||MAIN_THREAD)pid=ctx.self.pid;
return ctx.self.pid}function _sharedWords(length){
return new Int32Array(new SharedArrayBuffer(length*4))}function _wordsFrom(state3,length,kind){
if(!(state3 instanceof SharedArrayBuffer)||state3.byteLength<length*4){
throw new TypeError(`a Troupe ${kind} arrived without its shared memory`)}return new Int32Array(state3,0,length)}var _STATE=0;
var _OWNER=1;
var _COUNT=2;
var _MUTEX_WORDS=3;
var FREE=0;
var LOCKED=1;
var CONTENDED=2;
var CHECK_HOLDER_MS=100;
function _tryLock(w){
if(Atomics.compareExchange(w,_STATE,FREE,LOCKED)!==FREE)return false;
take(w);
return true}function take(w){
w[_OWNER]=_myPid();
w[_COUNT]=1}function checkHolder(w,kind){
const holder=_deadHolder(w);
if(holder!==0)throw new LockHolderDiedError(kind,holder)}function _deadHolder(w){
const holder=Atomics.load(w,_OWNER);
if(holder===0||_isAlive(holder))return 0;
return Atomics.load(w,_OWNER)===holder?holder:0}async function _lockAsync(w,kind,what,deadline,signal,timeoutMs){
while(Atomics.exchange(w,_STATE,CONTENDED)!==FREE){
checkHolder(w,kind);
const left=_remaining(deadline);
if(left===0)throw _timeoutError(what,timeoutMs);
const r=_waitAsync(w,_STATE,CONTENDED,Math.min(left,CHECK_HOLDER_MS),signal);
if(typeof r!=="string")await r}take(w)}function _lockSync(w,kind,what,deadline,timeoutMs){
while(Atomics.exchange(w,_STATE,CONTENDED)!==FREE){
checkHolder(w,kind);
const left=_remaining(deadline);
if(left===0)throw _timeoutError(what,timeoutMs);
_waitSync(w,_STATE,CONTENDED,Math.min(left,CHECK_HOLDER_MS))}take(w)}function _unlock(w){
w[_OWNER]=0;
if(Atomics.sub(w,_STATE,1)!==LOCKED){
Atomics.store(w,_STATE,FREE);
Atomics.notify(w,_STATE,1)}}function _isLocked(w){
return Atomics.load(w,_STATE)!==FREE}function _mutexFields(w,reentrant){
if(!_isLocked(w))return{
locked:false};
const holder=Atomics.load(w,_OWNER)||void 0;
return reentrant?{
locked:true,holder,count:Atomics.load(w,_COUNT)}:{
locked:true,holder}}var lockWords;
var rlockWords;
var reviving;
function words(){
const w=reviving??_sharedWords(_MUTEX_WORDS);
reviving=void 0;
return w}function timeoutOf(options){
return options?.timeoutMs??void 0}var Lock=class{
#w=words();
acquire(options){
if(options===void 0&&_tryLock(this.#w))return Promise.resolve(this);
let wait2;
try{
wait2=_waitOptions(options,"Lock.acquire()");
if(wait2.signal?.aborted)return Promise.reject(wait2.signal.reason)}catch(error){
return Promise.reject(error)}if(_tryLock(this.#w))return Promise.resolve(this);
return _lockAsync(this.#w,"Lock","Lock.acquire()",wait2.deadline,wait2.signal,timeoutOf(options)).then(()=>this)}acquireSync(options){
const deadline=_syncWaitOptions(options,"Lock.acquireSync()");
const w=this.#w;
if(!_tryLock(w)){
if(Atomics.load(w,_OWNER)===_myPid()&&deadline===Infinity){
throw new Error("Lock.acquireSync() would wait forever: this process already holds the lock, and a Lock is not re-entrant. Release it first, or use an RLock")}_lockSync(w,"Lock","Lock.acquireSync()",deadline,timeoutOf(options))}return this}tryAcquire(){
return _tryLock(this.#w)}release(){
if(!_isLocked(this.#w)){
throw new Error("Lock.release() was called on a lock that is not held")}_unlock(this.#w)}locked(){
return _isLocked(this.#w)}[Symbol.dispose](){
this.release()}[_WIRE](){
return{
kind:"troupe.Lock",module:import.meta.url,state:this.#w.buffer}}static{
lockWords=lock2=>lock2.#w;
_inspectable(this,lock2=>_mutexFields(lock2.#w,false))}};
var RLock=class{
#w=words();
acquire(options){
if(options===void 0&&this.#reenter())return Promise.resolve(this);
let wait2;
try{
wait2=_waitOptions(options,"RLock.acquire()");
if(wait2.signal?.aborted)return Promise.reject(wait2.signal.reason)}catch(error){
return Promise.reject(error)}if(this.#reenter())return Promise.resolve(this);
return _lockAsync(this.#w,"RLock","RLock.acquire()",wait2.deadline,wait2.signal,timeoutOf(options)).then(()=>this)}acquireSync(options){
const deadline=_syncWaitOptions(options,"RLock.acquireSync()");
if(this.#reenter())return this;
_lockSync(this.#w,"RLock","RLock.acquireSync()",deadline,timeoutOf(options));
return this}tryAcquire(){
return this.#reenter()}#reenter(){
const w=this.#w;
if(Atomics.load(w,_OWNER)===_myPid()){
w[_COUNT]++;
return true}return _tryLock(w)}release(){
const w=this.#w;
const owner=Atomics.load(w,_OWNER);
if(owner!==_myPid()){
if(owner!==0&&_deadHolder(w)===owner){
w[_COUNT]=0;
_unlock(w);
return}throw new Error(owner===0?"RLock.release() was called on a lock that is not held":`RLock.release() was called by process ${_myPid()}, but process ${owner} holds the lock: only its holder may release an RLock`)}if(--w[_COUNT]===0)_unlock(w)}locked(){
return _isLocked(this.#w)}[Symbol.dispose](){
this.release()}[_WIRE](){
return{
kind:"troupe.RLock",module:import.meta.url,state:this.#w.buffer}}static{
rlockWords=lock2=>lock2.#w;
_inspectable(this,lock2=>_mutexFields(lock2.#w,true))}};
function _mutexOf(lock2){
return lock2 instanceof RLock?{
w:rlockWords(lock2),reentrant:true}:{
w:lockWords(lock2),reentrant:false}}function _reviveLock(kind,state3){
const reentrant=kind==="troupe.RLock";
reviving=_wordsFrom(state3,_MUTEX_WORDS,reentrant?"RLock":"Lock");
return reentrant?new RLock:new Lock}_registerReviver("troupe.Lock",state3=>_reviveLock("troupe.Lock",state3));
_registerReviver("troupe.RLock",state3=>_reviveLock("troupe.RLock",state3));
var VALUE=0;
var WAITERS=1;
var MAX=2;
var WORDS=3;
var LIMIT=2147483647;
var reviving2;
function tryDown(w){
for(;
;
){
const v=Atomics.load(w,VALUE);
if(v<=0)return false;
if(Atomics.compareExchange(w,VALUE,v,v-1)===v)return true}}var Semaphore=class{
#w;
static{
_inspectable(this,s=>{
const max=s.#w[MAX];
return max>=0?{
value:s.value,max}:{
value:s.value}})}constructor(value=1){
if(reviving2){
this.#w=reviving2;
reviving2=void 0;
return}const kind=this instanceof BoundedSemaphore?"BoundedSemaphore":"Semaphore";
if(!Number.isInteger(value)||value<0||value>LIMIT){
throw new RangeError(`${kind} value must be an integer from 0 to ${LIMIT}, got ${typeof value==="number"?value:_describe(value)}`)}this.#w=_sharedWords(WORDS);
this.#w[VALUE]=value;
this.#w[MAX]=kind==="BoundedSemaphore"?value:-1}get value(){
return Atomics.load(this.#w,VALUE)}acquire(options){
if(options===void 0&&tryDown(this.#w))return Promise.resolve(this);
let wait2;
try{
wait2=_waitOptions(options,`${this.#kind()}.acquire()`);
if(wait2.signal?.aborted)return Promise.reject(wait2.signal.reason)}catch(error){
return Promise.reject(error)}if(tryDown(this.#w))return Promise.resolve(this);
return this.#acquireSlow(wait2,options?.timeoutMs)}async#acquireSlow(wait2,timeoutMs){
const w=this.#w;
Atomics.add(w,WAITERS,1);
try{
while(!tryDown(w)){
const left=_remaining(wait2.deadline);
if(left===0)throw _timeoutError(`${this.#kind()}.acquire()`,timeoutMs);
const r=_waitAsync(w,VALUE,0,left,wait2.signal);
if(typeof r!=="string")await r}}finally{
Atomics.sub(w,WAITERS,1)}return this}acquireSync(options){
const what=`${this.#kind()}.acquireSync()`;
const deadline=_syncWaitOptions(options,what);
const w=this.#w;
if(tryDown(w))return this;
Atomics.add(w,WAITERS,1);
try{
while(!tryDown(w)){
const left=_remaining(deadline);
if(left===0)throw _timeoutError(what,options?.timeoutMs);
_waitSync(w,VALUE,0,left)}}finally{
Atomics.sub(w,WAITERS,1)}return this}tryAcquire(){
return tryDown(this.#w)}release(){
const w=this.#w;
const max=w[MAX];
for(;
;
){
const v=Atomics.load(w,VALUE);
if(max>=0&&v>=max){
throw new Error(`BoundedSemaphore.release() was called more times than acquire(): the value would exceed its initial value ${max}`)}if(v>=LIMIT)throw new RangeError(`Semaphore value cannot exceed ${LIMIT}`);
if(Atomics.compareExchange(w,VALUE,v,v+1)===v)break}if(Atomics.load(w,WAITERS)>0)Atomics.notify(w,VALUE,1)}[Symbol.dispose](){
this.release()}[_WIRE](){
return{
kind:"troupe.Semaphore",module:import.meta.url,state:this.#w.buffer}}#kind(){
return this.#w[MAX]>=0?"BoundedSemaphore":"Semaphore"}};
var BoundedSemaphore=class extends Semaphore{
constructor(value=1){
super(value)}};
_registerReviver("troupe.Semaphore",state3=>{
const w=_wordsFrom(state3,WORDS,"Semaphore");
reviving2=w;
return w[MAX]>=0?new BoundedSemaphore:new Semaphore});
var FLAG=0;
var WORDS2=1;
var reviving3;
var Event=class{
#w;
static{
_inspectable(this,event=>({
set:event.isSet()}))}constructor(){
this.#w=reviving3??_sharedWords(WORDS2);
reviving3=void 0}isSet(){
return Atomics.load(this.#w,FLAG)===1}set(){
Atomics.store(this.#w,FLAG,1);
Atomics.notify(this.#w,FLAG)}clear(){
Atomics.store(this.#w,FLAG,0)}async wait(options){
const wait2=_waitOptions(options,"Event.wait()");
const w=this.#w;
while(Atomics.load(w,FLAG)!==1){
const left=_remaining(wait2.deadline);
if(left===0)return false;
const r=_waitAsync(w,FLAG,0,left,wait2.signal);
if(typeof r!=="string")await r}return true}waitSync(options){
const deadline=_syncWaitOptions(options,"Event.waitSync()");
const w=this.#w;
while(Atomics.load(w,FLAG)!==1){
const left=_remaining(deadline);
if(left===0)return false;
_waitSync(w,FLAG,0,left)}return true}[_WIRE](){
return{
kind:"troupe.Event",module:import.meta.url,state:this.#w.buffer}}};
_registerReviver("troupe.Event",state3=>{
reviving3=_wordsFrom(state3,WORDS2,"Event");
return new Event});
var SEQ=0;
var WORDS3=1;
var reviving4;
var Condition=class{
#w;
#lock;
static{
_inspectable(this,cond=>({
lock:cond.#lock}))}constructor(lock2){
if(reviving4){
({
w:this.#w,lock:this.#lock}=reviving4);
reviving4=void 0;
return}if(lock2!==void 0&&!(lock2 instanceof Lock)&&!(lock2 instanceof RLock)){
throw new TypeError(`Condition lock must be a Lock or an RLock, got ${_describe(lock2)}`)}this.#w=_sharedWords(WORDS3);
this.#lock=lock2??new RLock}async acquire(options){
await this.#lock.acquire(options);
return this}acquireSync(options){
this.#lock.acquireSync(options);
return this}release(){
this.#lock.release()}[Symbol.dispose](){
this.#lock.release()}async wait(options){
const wait2=_waitOptions(options,"Condition.wait()");
const{
m,count:count2,seq}=this.#releaseForWait("Condition.wait()");
let result;
try{
const r=_waitAsync(this.#w,SEQ,seq,_remaining(wait2.deadline),wait2.signal);
result=typeof r==="string"?r:await r}finally{
if(!_tryLock(m)){
await _lockAsync(m,"Condition's lock","Condition.wait()",Infinity,void 0,void 0)}m[_COUNT]=count2}return result!=="timed-out"}waitSync(options){
const deadline=_syncWaitOptions(options,"Condition.waitSync()");
const{
m,count:count2,seq}=this.#releaseForWait("Condition.waitSync()");
let result;
try{
result=_waitSync(this.#w,SEQ,seq,_remaining(deadline))}finally{
if(!_tryLock(m)){
_lockSync(m,"Condition's lock","Condition.waitSync()",Infinity,void 0)}m[_COUNT]=count2}return result!=="timed-out"}async waitFor(predicate,options){
const wait2=_waitOptions(options,"Condition.waitFor()");
let ok=predicate();
while(!ok){
const left=_remaining(wait2.deadline);
if(left===0)break;
await this.wait({
timeoutMs:left===Infinity?void 0:left,signal:wait2.signal});
ok=predicate()}return ok}waitForSync(predicate,options){
const deadline=_syncWaitOptions(options,"Condition.waitForSync()");
let ok=predicate();
while(!ok){
const left=_remaining(deadline);
if(left===0)break;
this.waitSync({
timeoutMs:left===Infinity?void 0:left});
ok=predicate()}return ok}notify(n=1){
if(!(n>=0))throw new RangeError(`Condition.notify() n must be 0 or more, got ${n}`);
this.#mine("Condition.notify()");
Atomics.add(this.#w,SEQ,1);
Atomics.notify(this.#w,SEQ,n)}notifyAll(){
this.notify(Infinity)}[_WIRE](){
const lock2=this.#lock[_WIRE]();
return{
kind:"troupe.Condition",module:import.meta.url,state:{
w:this.#w.buffer,lock:{
kind:lock2.kind,state:lock2.state}}}}#mine(what){
const m=_mutexOf(this.#lock).w;
if(!_isLocked(m)||Atomics.load(m,_OWNER)!==_myPid()){
throw new Error(`${what} needs the condition's lock: acquire it first`)}return m}#releaseForWait(what){
const m=this.#mine(what);
const count2=m[_COUNT];
const seq=Atomics.load(this.#w,SEQ);
_unlock(m);
return{
m,count:count2,seq}}};
_registerReviver("troupe.Condition",state3=>{
const{
w,lock:lock2}=state3;
reviving4={
w:_wordsFrom(w,WORDS3,"Condition"),lock:_reviveLock(lock2.kind,lock2.state)};
return new Condition});
var STATE=0;
var PARTIES=1;
var RESET=2;
var WORDS4=3;
var COUNT2=32767;
var BROKEN=32768;
var MAX_PARTIES=16383;
var generation=state3=>state3>>>16;
var nextGeneration=state3=>(generation(state3)+1&65535)<<16;
var reviving5;
var Barrier=class{
#w;
static{
_inspectable(this,b=>({
parties:b.parties,nWaiting:b.nWaiting,broken:b.broken}))}constructor(parties){
if(reviving5){
this.#w=reviving5;
reviving5=void 0;
return}if(!Number.isInteger(parties)||parties<1||parties>MAX_PARTIES){
throw new RangeError(`Barrier parties must be an integer from 1 to ${MAX_PARTIES}, got ${typeof parties==="number"?parties:_describe(parties)}`)}this.#w=_sharedWords(WORDS4);
this.#w[PARTIES]=parties}get parties(){
return this.#w[PARTIES]}get nWaiting(){
const state3=Atomics.load(this.#w,STATE);
return state3&BROKEN?0:Math.min(state3&COUNT2,this.parties)}get broken(){
return(Atomics.load(this.#w,STATE)&BROKEN)!==0}async wait(options){
const wait2=_waitOptions(options,"Barrier.wait()");
if(wait2.signal?.aborted)throw wait2.signal.reason;
const w=this.#w;
for(;
;
){
const{
index,gen}=this.#arrive();
if(index===this.parties-1)return index;
const full=index>=this.parties;
for(;
;
){
const state3=Atomics.load(w,STATE);
if(generation(state3)!==gen){
if(!full)this.#checkReset(gen);
break}if(state3&BROKEN)throw this.#brokenError();
const left=_remaining(wait2.deadline);
if(left===0){
this.abort();
throw new BrokenBarrierError(`Barrier.wait() timed out after ${options?.timeoutMs} ms, which broke the barrier`)}try{
const r=_waitAsync(w,STATE,state3,left,wait2.signal);
if(typeof r!=="string")await r}catch(reason){
this.abort();
throw reason}}if(!full)return index}}waitSync(options){
const deadline=_syncWaitOptions(options,"Barrier.waitSync()");
const w=this.#w;
for(;
;
){
const{
index,gen}=this.#arrive();
if(index===this.parties-1)return index;
const full=index>=this.parties;
for(;
;
){
const state3=Atomics.load(w,STATE);
if(generation(state3)!==gen){
if(!full)this.#checkReset(gen);
break}if(state3&BROKEN)throw this.#brokenError();
const left=_remaining(deadline);
if(left===0){
this.abort();
throw new BrokenBarrierError(`Barrier.waitSync() timed out after ${options?.timeoutMs} ms, which broke the barrier`)}_waitSync(w,STATE,state3,left)}if(!full)return index}}#arrive(){
const w=this.#w;
const parties=this.parties;
const before=Atomics.add(w,STATE,1);
if(before&BROKEN)throw this.#brokenError();
const index=before&COUNT2;
const gen=generation(before);
if(index===parties-1){
for(let state3=before+1;
;
){
const seen=Atomics.compareExchange(w,STATE,state3,nextGeneration(before));
if(seen===state3)break;
if(seen&BROKEN||generation(seen)!==gen)throw this.#brokenError();
state3=seen}Atomics.notify(w,STATE)}return{
index,gen}}#checkReset(gen){
if(Atomics.load(this.#w,RESET)===gen+1){
throw new BrokenBarrierError("the barrier was reset while this process waited")}}#brokenError(){
return new BrokenBarrierError("the barrier is broken (abort() was called, or a wait timed out or was aborted); reset() makes it usable again")}abort(){
Atomics.or(this.#w,STATE,BROKEN);
Atomics.notify(this.#w,STATE)}reset(){
const w=this.#w;
for(;
;
){
const state3=Atomics.load(w,STATE);
if((state3&COUNT2)!==0)Atomics.store(w,RESET,generation(state3)+1);
if(Atomics.compareExchange(w,STATE,state3,nextGeneration(state3))===state3)break}Atomics.notify(w,STATE)}[_WIRE](){
return{
kind:"troupe.Barrier",module:import.meta.url,state:this.#w.buffer}}};
_registerReviver("troupe.Barrier",state3=>{
reviving5=_wordsFrom(state3,WORDS4,"Barrier");
return new Barrier(0)});
var CTORS={
i8:Int8Array,u8:Uint8Array,i16:Int16Array,u16:Uint16Array,i32:Int32Array,u32:Uint32Array,f32:Float32Array,f64:Float64Array,i64:BigInt64Array,u64:BigUint64Array};
var CODES={
b:"i8",B:"u8",h:"i16",H:"u16",i:"i32",I:"u32",l:"i64",L:"u64",q:"i64",Q:"u64",f:"f32",d:"f64"};
function numericType(type,what){
if(typeof type==="string"){
if(Object.hasOwn(CTORS,type))return type;
if(Object.hasOwn(CODES,type))return CODES[type]}throw new TypeError(`${what} type must be one of ${Object.keys(CTORS).join(", ")} (or a Python typecode: ${Object.keys(CODES).join(" ")}), got ${typeof type==="string"?JSON.stringify(type):_describe(type)}`)}var isBig=type=>type==="i64"||type==="u64";
var isFloat=type=>type==="f32"||type==="f64";
function element(type,value,what){
if(isBig(type)){
if(typeof value==="bigint")return value;
if(typeof value==="number"&&Number.isInteger(value))return BigInt(value)}else if(typeof value==="number")return value;
throw new TypeError(`${what} must be ${isBig(type)?"a bigint (or an integer number)":"a number"} for type ${type}, got ${typeof value==="object"?_describe(value):typeof value}`)}function allocate(type,length){
const ctor=CTORS[type];
return new ctor(new SharedArrayBuffer(Math.max(1,length)*ctor.BYTES_PER_ELEMENT),0,length)}function RawArray(type,lengthOrValues){
const t=numericType(type,"RawArray()");
return arrayFor(t,lengthOrValues,"RawArray()")}function arrayFor(t,lengthOrValues,what){
if(typeof lengthOrValues==="number"){
if(!Number.isInteger(lengthOrValues)||lengthOrValues<0){
throw new RangeError(`${what} length must be a non-negative integer, got ${lengthOrValues}`)}return allocate(t,lengthOrValues)}if(typeof lengthOrValues!=="object"||lengthOrValues===null||typeof lengthOrValues[Symbol.iterator]!=="function"&&typeof lengthOrValues.length!=="number"){
throw new TypeError(`${what} needs a length or the initial values, got ${_describe(lengthOrValues)}`)}const values=Array.from(lengthOrValues);
const array=allocate(t,values.length);
values.forEach((v,i)=>array[i]=element(t,v,`${what} values[${i}]`));
return array}var reviving6;
function cellFor(type,initial,what){
const cell=allocate(type,1);
if(initial!==void 0)cell[0]=element(type,initial,`${what} initial value`);
return cell}function read2(type,cell,index=0){
return isFloat(type)?cell[index]:Atomics.load(cell,index)}function write2(type,cell,value,what,index=0){
const v=element(type,value,what);
if(isFloat(type))cell[index]=v;
else Atomics.store(cell,index,v)}function lockOption(options,what){
if(typeof options!=="object"||options===null){
throw new TypeError(`${what} options must be an object, got ${_describe(options)}`)}const{
lock:lock2=true}=options;
if(lock2!==true&&lock2!==false&&!(lock2 instanceof Lock)&&!(lock2 instanceof RLock)){
throw new TypeError(`${what} lock must be true, false, a Lock or an RLock, got ${_describe(lock2)}`)}return lock2===true?new RLock:lock2===false?void 0:lock2}function noLock(what){
return new Error(`this ${what} was made with { lock: false }, so it has no lock to get`)}function lockState(lock2){
if(!lock2)return void 0;
const form=lock2[_WIRE]();
return{
kind:form.kind,state:form.state}}var RawValue=class{
#type;
#cell;
static{
_inspectable(this,v=>({
type:v.#type,value:read2(v.#type,v.#cell)}))}constructor(type,initial){
if(reviving6){
({
type:this.#type,cell:this.#cell}=reviving6);
reviving6=void 0;
return}this.#type=numericType(type,"RawValue");
this.#cell=cellFor(this.#type,initial,"RawValue")}get type(){
return this.#type}get value(){
return read2(this.#type,this.#cell)}set value(value){
write2(this.#type,this.#cell,value,"RawValue value")}[_WIRE](){
const state3={
type:this.#type,buffer:this.#cell.buffer};
return{
kind:"troupe.RawValue",module:import.meta.url,state:state3}}};
var Value=class{
#type;
#cell;
#lock;
static{
_inspectable(this,v=>({
type:v.#type,value:read2(v.#type,v.#cell)}))}constructor(type,initial,options={
}){
if(reviving6){
({
type:this.#type,cell:this.#cell,lock:this.#lock}=reviving6);
reviving6=void 0;
return}this.#type=numericType(type,"Value");
const lock2=lockOption(options,"Value");
this.#cell=cellFor(this.#type,initial,"Value");
this.#lock=lock2}get type(){
return this.#type}get value(){
return read2(this.#type,this.#cell)}set value(value){
write2(this.#type,this.#cell,value,"Value value")}getLock(){
if(!this.#lock)throw noLock("Value");
return this.#lock}[_WIRE](){
const state3={
type:this.#type,buffer:this.#cell.buffer,lock:lockState(this.#lock)};
return{
kind:"troupe.Value",module:import.meta.url,state:state3}}};
var SynchronizedArray=class{
#type;
#array;
#lock;
static{
_inspectable(this,a=>({
type:a.#type,array:a.#array}))}constructor(type,lengthOrValues,options={
}){
if(reviving6){
({
type:this.#type,cell:this.#array,lock:this.#lock}=reviving6);
reviving6=void 0;
return}this.#type=numericType(type,"SynchronizedArray");
const lock2=lockOption(options,"SynchronizedArray");
this.#array=arrayFor(this.#type,lengthOrValues,"SynchronizedArray");
this.#lock=lock2}get type(){
return this.#type}get array(){
return this.#array}get length(){
return this.#array.length}getLock(){
if(!this.#lock)throw noLock("SynchronizedArray");
return this.#lock}get(index){
return read2(this.#type,this.#array,this.#checked(index))}set(index,value){
const i=this.#checked(index);
write2(this.#type,this.#array,value,`SynchronizedArray value at index ${i}`,i)}toArray(){
return Array.from(this.#array)}[Symbol.iterator](){
return this.#array.values()}#checked(index){
const n=this.#array.length;
if(Number.isInteger(index)&&index<0&&index>=-n)return index+n;
if(!Number.isInteger(index)||index<0||index>=n){
throw new RangeError(`SynchronizedArray index ${typeof index==="number"?index:_describe(index)} is out of range for length ${this.#array.length}`)}return index}[_WIRE](){
const state3={
type:this.#type,buffer:this.#array.buffer,length:this.#array.length,lock:lockState(this.#lock)};
return{
kind:"troupe.SynchronizedArray",module:import.meta.url,state:state3}}};
function reviveState(state3,kind){
const s=state3;
if(!s||!(s.buffer instanceof SharedArrayBuffer)||!s.type||!Object.hasOwn(CTORS,s.type)){
throw new TypeError(`a Troupe ${kind} arrived without its shared memory`)}if(s.length!==void 0&&!(Number.isInteger(s.length)&&s.length>=0)){
throw new TypeError(`a Troupe ${kind} arrived without its length`)}return s}_registerReviver("troupe.RawValue",state3=>{
const{
type,buffer}=reviveState(state3,"RawValue");
reviving6={
type,cell:new CTORS[type](buffer,0,1),lock:void 0};
return new RawValue(type)});
_registerReviver("troupe.Value",state3=>{
const{
type,buffer,lock:lock2}=reviveState(state3,"Value");
reviving6={
type,cell:new CTORS[type](buffer,0,1),lock:lock2&&_reviveLock(lock2.kind,lock2.state)};
return new Value(type)});
_registerReviver("troupe.SynchronizedArray",state3=>{
const{
type,buffer,length,lock:lock2}=reviveState(state3,"SynchronizedArray");
reviving6={
type,cell:new CTORS[type](buffer,0,length??0),lock:lock2&&_reviveLock(lock2.kind,lock2.state)};
return new SynchronizedArray(type,0)});
function _shouldRestart(restart,reason){
if(restart==="permanent")return true;
if(restart==="transient")return!reason.normal;
return false}function _affected(strategy,count2,failed2){
if(strategy==="one_for_one")return[failed2];
const from=strategy==="one_for_all"?0:failed2;
return Array.from({
length:count2-from},(_,i)=>from+i)}function _recordRestart(times,now,intensity,periodMs){
const recent=times.filter(t=>now-t<periodMs);
recent.push(now);
return{
times:recent,exceeded:recent.length>intensity}}function _backoffDelay(backoff,recentRestarts,random){
if(!backoff)return 0;
const base=Math.min(backoff.maxMs,backoff.minMs*2**Math.max(0,recentRestarts-1));
const jitter=backoff.jitter??0;
return Math.max(0,Math.min(backoff.maxMs,base*(1+jitter*(2*random-1))))}var STRATEGIES=["one_for_one","one_for_all","rest_for_one"];
var RESTARTS=["permanent","transient","temporary"];
var count=0;
var Supervisor=class Supervisor{
#name;
#strategy;
#intensity;
#periodMs;
#backoff;
#children=[];
#state="new";
#restartTimes=[];
#chain=Promise.resolve();
#halt=new AbortController;
#done=Promise.withResolvers();
#failure;
#listeners=new Map;
#gone=new Set;
static{
_inspectable(this,sup=>({
name:sup.#name,strategy:sup.#strategy,state:sup.#state,children:Object.fromEntries(sup.#children.map(c=>[c.spec.id,c.state]))}))}constructor(options={
}){
if(typeof options!=="object"||options===null){
throw new TypeError(`Supervisor options must be an object, got ${_describe(options)}`)}const{
strategy="one_for_one",intensity=1,periodMs=5e3,children:children2=[],backoff,name}=options;
if(!STRATEGIES.includes(strategy)){
throw new TypeError(`Supervisor strategy must be one of ${STRATEGIES.join(", ")}, got ${String(strategy)}`)}if(!Number.isInteger(intensity)||intensity<0){
throw new RangeError(`Supervisor intensity must be a non-negative integer, got ${String(intensity)}`)}if(typeof periodMs!=="number"||!(periodMs>0)){
throw new RangeError(`Supervisor periodMs must be a positive number, got ${String(periodMs)}`)}if(backoff!==void 0)checkBackoff(backoff);
if(!Array.isArray(children2)){
throw new TypeError(`Supervisor children must be an array, got ${_describe(children2)}`)}this.#name=name??`Supervisor-${++count}`;
this.#strategy=strategy;
this.#intensity=intensity;
this.#periodMs=periodMs;
this.#backoff=backoff;
for(const[i,spec]of children2.entries())this.#add(spec,`children[${i}]`);
this.#done.promise.catch(()=>{
})}get name(){
return this.#name}get done(){
return this.#done.promise}on(type,listener){
if(typeof listener!=="function"){
throw new TypeError(`Supervisor.on() listener must be a function, got ${_describe(listener)}`)}let set=this.#listeners.get(type);
if(!set)this.#listeners.set(type,set=new Set);
set.add(listener);
return()=>set.delete(listener)}#emit(type,event){
for(const listener of this.#listeners.get(type)??[]){
try{
listener(event)}catch(error){
reportError(error)}}}start(){
if(this.#state!=="new"){
return Promise.reject(new Error(`${this.#name} was already started`))}this.#state="starting";
return this.#act(async()=>{
for(const child of this.#children){
try{
await this.#launch(child)}catch(error){
await this.#stopAll();
const failure=new Error(`${this.#name} could not start child '${child.spec.id}': ${message(error)}`,{
cause:error});
this.#end("failed",failure);
throw failure}}this.#state="running"})}stop(){
if(this.#state==="new"){
this.#end("stopped",void 0);
return Promise.resolve()}this.#halt.abort();
return this.#act(async()=>{
if(this.#state==="stopped"||this.#state==="failed")return;
this.#state="stopping";
await this.#stopAll();
this.#end("stopped",void 0)})}async[Symbol.asyncDispose](){
await this.stop()}startChild(spec){
try{
if(this.#state==="stopping"||this.#state==="stopped"||this.#state==="failed"){
throw new Error(`${this.#name} is ${this.#state}; it takes no new children`)}const child=this.#add(spec,"startChild() spec");
if(this.#state==="new")return Promise.resolve();
return this.#act(async()=>{
try{
await this.#launch(child)}catch(error){
this.#remove(child);
throw new Error(`${this.#name} could not start child '${child.spec.id}': ${message(error)}`,{
cause:error})}})}catch(error){
return Promise.reject(error)}}terminateChild(id){
return this.#act(async()=>{
const child=this.#find(id);
await this.#shutdown(child);
this.#settleStopped(child,"was terminated by its supervisor");
if(child.spec.restart==="temporary")this.#remove(child)})}restartChild(id){
return this.#act(async()=>{
const child=this.#find(id);
if(child.state!=="stopped"){
throw new Error(`${this.#name}: child '${id}' is ${child.state}; terminate it first`)}this.#checkRunning();
await this.#launch(child)})}deleteChild(id){
return this.#act(()=>{
const child=this.#find(id);
if(child.state!=="stopped"){
throw new Error(`${this.#name}: child '${id}' is ${child.state}; terminateChild() it before deleting it`)}this.#remove(child);
return Promise.resolve()})}whichChildren(){
return this.#children.map(c=>({
id:c.spec.id,state:c.state,kind:c.running?.kind??null,restart:c.spec.restart,restarts:c.restarts,name:c.running?.name,pid:c.running?.pid}))}ref(id){
if(typeof id!=="string"){
throw new TypeError(`Supervisor.ref() id must be a string, got ${_describe(id)}`)}return _makeRef({
current:()=>{
const child=this.#children.find(c=>c.spec.id===id);
const handle=child?.state==="running"?child.running?.actor:void 0;
return handle?.alive?handle:void 0},next:(method,signal,timeoutMs)=>this.#waitFor(id,method,signal,timeoutMs),label:`child '${id}' of ${this.#name}`,onGone:listener=>{
if(this.#state==="stopped"||this.#state==="failed"){
listener(this.#goneReason());
return()=>{
}}this.#gone.add(listener);
return()=>this.#gone.delete(listener)}})}#act(fn){
const result=this.#chain.then(fn);
this.#chain=result.catch(()=>{
});
return result}#add(spec,where){
const checked2=checkSpec(spec,where);
if(this.#children.some(c=>c.spec.id===checked2.id)){
throw new Error(`${this.#name} already has a child with id '${checked2.id}'`)}const child={
spec:checked2,state:"stopped",running:void 0,restarts:0,waiters:new Set};
this.#children.push(child);
return child}#remove(child){
const i=this.#children.indexOf(child);
if(i>=0)this.#children.splice(i,1);
this.#rejectWaiters(child,`was removed from ${this.#name}`)}#find(id){
const child=this.#children.find(c=>c.spec.id===id);
if(!child)throw new Error(`${this.#name} has no child with id '${id}'`);
return child}#checkRunning(){
if(this.#state!=="running"&&this.#state!=="starting"){
throw new Error(`${this.#name} is ${this.#state}`)}}async#launch(child){
const value=await child.spec.start();
const running=value instanceof Supervisor?await value.#asChild():adopt(value,child.spec.id);
if(this.#halt.signal.aborted&&this.#state!=="starting"){
running.byUs=true;
await running.shutdown("brutal");
throw new Error(`${this.#name} stopped while child '${child.spec.id}' was starting`)}child.running=running;
child.state="running";
running.actor?.onEnd(()=>{
if(child.running===running&&!running.byUs)child.state="restarting"});
void running.ended.then(reason=>this.#exited(child,running,reason));
this.#emit("start",{
id:child.spec.id,name:running.name,pid:running.pid});
for(const waiter of[...child.waiters]){
if(running.actor)waiter.resolve(running.actor);
else waiter.reject(notAnActor(child.spec.id,running.kind))}child.waiters.clear()}#exited(child,running,reason){
if(child.running!==running||running.byUs)return;
child.state="restarting";
void this.#act(()=>this.#handleExit(child,running,reason))}async#handleExit(child,running,reason){
if(child.running!==running||this.#state!=="running")return;
child.running=void 0;
this.#emit("exit",{
id:child.spec.id,reason,shutdown:false});
if(!_shouldRestart(child.spec.restart,reason)){
this.#settleStopped(child,reason.description);
if(child.spec.restart==="temporary")this.#remove(child);
return}await this.#restart(child,reason)}async#restart(failed2,reason){
const index=this.#children.indexOf(failed2);
let group=_affected(this.#strategy,this.#children.length,index).map(i=>this.#children[i]).filter(c=>c===failed2||c.state!=="stopped");
let cause={
child:failed2,reason};
while(true){
const{
times,exceeded}=_recordRestart(this.#restartTimes,performance.now(),this.#intensity,this.#periodMs);
this.#restartTimes=times;
if(exceeded)return this.#escalate(cause.child,cause.reason,times.length);
for(const c of group)c.state="restarting";
for(const c of[...group].reverse())await this.#shutdown(c);
for(const c of group){
if(c.spec.restart==="temporary"&&c!==cause.child)this.#remove(c)}group=group.filter(c=>this.#children.includes(c));
const delayMs=_backoffDelay(this.#backoff,times.length,Math.random());
for(const c of group){
c.restarts++;
this.#emit("restart",{
id:c.spec.id,restarts:c.restarts,delayMs})}if(delayMs>0&&!await this.#sleep(delayMs))return;
let failedAt=-1;
for(const[i,c]of group.entries()){
try{
await this.#launch(c)}catch(error){
if(this.#halt.signal.aborted)return;
const why=_exitReason(1,asError(error),`failed to restart: ${message(error)}`);
this.#emit("exit",{
id:c.spec.id,reason:why,shutdown:false});
cause={
child:c,reason:why};
failedAt=i;
break}}if(failedAt<0)return;
group=group.slice(failedAt)}}async#escalate(child,reason,restarts){
const error=new EscalationError(this.#name,child.spec.id,reason,restarts,this.#periodMs);
this.#state="stopping";
this.#emit("escalate",{
error});
await this.#stopAll();
this.#end("failed",error)}async#shutdown(child){
const running=child.running;
if(!running)return;
running.byUs=true;
const limit=child.spec.shutdownMs??(running.kind==="supervisor"?Infinity:5e3);
const reason=await running.shutdown(limit);
child.running=void 0;
this.#emit("exit",{
id:child.spec.id,reason,shutdown:true})}async#stopAll(){
for(const child of[...this.#children].reverse()){
await this.#shutdown(child);
child.state="stopped"}}#end(state3,failure){
this.#state=state3;
this.#failure=failure;
this.#halt.abort();
for(const child of this.#children){
child.state="stopped";
this.#rejectWaiters(child,failure?`is gone: ${failure.message}`:`is gone: ${this.#name} was stopped`)}if(failure)this.#done.reject(failure);
else this.#done.resolve();
const reason=this.#goneReason();
for(const listener of this.#gone)listener(reason);
this.#gone.clear()}#goneReason(){
const failure=this.#failure;
return failure?_exitReason(1,null,`is gone: ${failure.message}`):_exitReason(0,null,`is gone: ${this.#name} was stopped`)}#settleStopped(child,why){
child.state="stopped";
this.#rejectWaiters(child,why)}#rejectWaiters(child,why){
for(const waiter of[...child.waiters]){
waiter.reject(gone(`child '${child.spec.id}' of ${this.#name}`,"a method",why))}child.waiters.clear()}#sleep(ms){
const signal=this.#halt.signal;
if(signal.aborted)return Promise.resolve(false);
return new Promise(resolve=>{
const cancel=_after(ms,()=>{
signal.removeEventListener("abort",onAbort);
resolve(true)});
const onAbort=()=>{
cancel();
resolve(false)};
signal.addEventListener("abort",onAbort,{
once:true})})}#waitFor(id,method,signal,timeoutMs){
const label2=`child '${id}' of ${this.#name}`;
if(this.#state==="stopped"||this.#state==="failed"){
const why=this.#failure?`is gone: ${this.#failure.message}`:"is gone: it was stopped";
return Promise.reject(gone(label2,method,why))}const child=this.#children.find(c=>c.spec.id===id);
if(!child)return Promise.reject(gone(label2,method,"does not exist"));
if(child.state==="stopped"&&this.#state!=="new"&&this.#state!=="starting"){
return Promise.reject(gone(label2,method,"is stopped"))}const running=child.running;
if(child.state==="running"&&running&&!running.actor){
return Promise.reject(notAnActor(id,running.kind))}if(signal?.aborted)return Promise.reject(signal.reason);
return new Promise((resolve,reject)=>{
let cancelTimer;
const cleanup=()=>{
child.waiters.delete(waiter);
cancelTimer?.();
signal?.removeEventListener("abort",onAbort)};
const waiter={
resolve:handle=>{
cleanup();
resolve(handle)},reject:error=>{
cleanup();
reject(error instanceof ActorExited?gone(label2,method,error.reason.description):error)}};
const onAbort=()=>waiter.reject(signal.reason);
if(timeoutMs!==void 0){
cancelTimer=_after(timeoutMs,()=>waiter.reject(new DOMException(`${label2} was not running again within ${timeoutMs} ms for ${method}()`,"TimeoutError")))}signal?.addEventListener("abort",onAbort,{
once:true});
child.waiters.add(waiter)})}async#asChild(){
if(this.#state==="new")await this.start();
if(this.#state!=="running")throw new Error(`${this.#name} is ${this.#state}`);
const ended=this.#done.promise.then(()=>_exitReason(0,null,"stopped"),error=>_exitReason(1,asError(error)));
return{
kind:"supervisor",name:this.#name,pid:void 0,actor:void 0,byUs:false,ended,shutdown:async limit=>{
if(limit==="brutal"){
this.#kill();
return ended}const stopped=this.stop();
if(limit!==Infinity){
let cancel;
const late=new Promise(resolve=>cancel=_after(limit,resolve));
await Promise.race([stopped,late]);
cancel();
this.#kill()}await stopped;
return ended}}}#kill(){
if(this.#state==="stopped"||this.#state==="failed")return;
this.#halt.abort();
for(const child of[...this.#children].reverse()){
const running=child.running;
if(!running)continue;
running.byUs=true;
void running.shutdown("brutal");
child.running=void 0}this.#end("stopped",void 0)}};
function adopt(value,id){
const handle=_refHandle(value);
if(handle&&!handle.owner){
throw new TypeError(`child '${id}': start() returned a reference received from another thread, which this supervisor cannot stop or restart; spawn the actor in start() instead`)}if(handle){
if(!handle.alive)throw new Error(`child '${id}': the actor ${handle.name} already ended`);
return{
kind:"actor",name:handle.name,pid:handle.pid,actor:handle,byUs:false,ended:handle.ended,shutdown:limit=>{
if(limit!=="brutal")return handle.stop(limit===Infinity?void 0:limit);
handle.terminate(-9);
return handle.ended}}}if(value instanceof Process){
const p=value;
if(p.pid===void 0)p.start();
else if(p.exitCode!==null){
throw new Error(`child '${id}': the process ${p.name} already ended`)}const ended=p.join().then(()=>_exitReason(p.exitCode??0,null),()=>_exitReason(p.exitCode??1,p.error));
return{
kind:"process",name:p.name,pid:p.pid,actor:void 0,byUs:false,ended,shutdown:limit=>{
if(limit==="brutal")p.kill();
else p.terminate();
return ended}}}throw new TypeError(`child '${id}': start() must return an actor reference (spawn()), a Process or a Supervisor, got ${_describe(value)}`)}function checkSpec(spec,where){
if(typeof spec!=="object"||spec===null){
throw new TypeError(`${where} must be a child spec object, got ${_describe(spec)}`)}const{
id,start,restart="permanent",shutdownMs}=spec;
if(typeof id!=="string"||id.length===0){
throw new TypeError(`${where}.id must be a non-empty string, got ${_describe(id)}`)}if(typeof start!=="function"){
throw new TypeError(`${where}.start must be a function that starts the child, e.g. () => spawn(MyActor), got ${_describe(start)}`)}if(!RESTARTS.includes(restart)){
throw new TypeError(`${where}.restart must be one of ${RESTARTS.join(", ")}, got ${String(restart)}`)}if(shutdownMs!==void 0&&shutdownMs!=="brutal"){
_checkTimeout(shutdownMs,`${where}.shutdownMs`)}return{
id,start,restart,shutdownMs}}function checkBackoff(backoff){
if(typeof backoff!=="object"||backoff===null){
throw new TypeError(`Supervisor backoff must be an object, got ${_describe(backoff)}`)}const{
minMs,maxMs,jitter=0}=backoff;
if(typeof minMs!=="number"||!(minMs>=0)){
throw new RangeError(`backoff.minMs must be a non-negative number, got ${String(minMs)}`)}if(typeof maxMs!=="number"||!(maxMs>=minMs)){
throw new RangeError(`backoff.maxMs must be a number >= minMs, got ${String(maxMs)}`)}if(typeof jitter!=="number"||!(jitter>=0&&jitter<=1)){
throw new RangeError(`backoff.jitter must be between 0 and 1, got ${String(jitter)}`)}}function gone(label2,method,why){
return new ActorExited(label2,void 0,method,_exitReason(0,null,why),false)}function notAnActor(id,kind){
return new TypeError(`child '${id}' is a ${kind}, not an actor: Supervisor.ref() only reaches actor children`)}function asError(error){
return error instanceof Error?error:new Error(String(error))}function message(error){
return error instanceof Error?error.message:String(error)}var KIND_QUEUE="troupe.Queue";
var KIND_JOINABLE="troupe.JoinableQueue";
var KIND_SIMPLE="troupe.SimpleQueue";
var adopting;
var rings=new WeakMap;
var Queue=class{
#ring;
#maxsize;
#codec;
#schema;
#joinable;
#scratch={
bytes:new Uint8Array(256)};
static{
_inspectable(this,q=>({
size:q.#ring.count,...q instanceof SimpleQueue?{
}:{
maxsize:q.#maxsize},...q.#joinable?{
unfinished:q.#ring.unfinished}:{
},closed:q.#ring.closed}))}constructor(options={
}){
const wire2=adopting;
adopting=void 0;
if(options.schema!==void 0&&typeof options.schema?.["~standard"]?.validate!=="function"){
throw new TypeError("'schema' must be a Standard Schema validator (an object with ['~standard'].validate), such as a zod, valibot or arktype schema")}this.#joinable=this instanceof JoinableQueue;
this.#schema=options.schema;
if(wire2){
this.#maxsize=wire2.maxsize;
this.#codec=wire2.codec;
this.#ring=new _Ring(wire2.buffer,wire2.codec,wire2.maxsize);
rings.set(this,this.#ring);
return}const{
maxsize=0,bufferBytes=_DEFAULT_BUFFER_BYTES,codec="structured"}=options;
if(!Number.isInteger(maxsize)||maxsize<0){
throw new RangeError(`'maxsize' must be a non-negative integer (0: no limit), got ${maxsize}`)}if(!Number.isInteger(bufferBytes)||bufferBytes<64||bufferBytes>2**30){
throw new RangeError(`'bufferBytes' must be an integer from 64 to 2^30, got ${bufferBytes}`)}if(codec!=="structured"&&codec!=="f64"&&codec!=="i32"){
throw new RangeError(`'codec' must be "structured", "f64" or "i32", got ${String(codec)}`)}this.#maxsize=maxsize;
this.#codec=codec;
this.#ring=new _Ring(_Ring.allocate(bufferBytes),codec,maxsize);
rings.set(this,this.#ring)}get#name(){
return this.constructor.name}withSchema(schema){
adopting=this.#wire();
const Class=this.constructor;
return new Class({
schema})}get maxsize(){
return this.#maxsize}get closed(){
return this.#ring.closed}qsize(){
return this.#ring.count}empty(){
return this.#ring.count===0}full(){
return this.#ring.full}async put(item,options={
}){
const timeoutMs=_timeoutOf(options.timeoutMs,this.#name,"put()");
options.signal?.throwIfAborted();
const value=this.#schema?await _validate(this.#schema,item,`${this.#name}.put() item`):item;
if(this.#tryPut(value,"put()"))return;
const retry=()=>this.#tryPut(value,"put()")?void 0:_WOULD_WAIT;
await this.#ring.waitForPut(retry,{
timeoutMs,signal:options.signal,onTimeout:()=>new Full(`${this.#name} stayed full for ${timeoutMs} ms`)})}putNowait(item){
const value=this.#schema?_validateSync(this.#schema,item,`${this.#name}.putNowait() item`,"putNowait()"):item;
if(!this.#tryPut(value,"putNowait()")){
throw new Full(`${this.#name} is full (${this.#fullReason()})`)}}putSync(item,options={
}){
const timeoutMs=_timeoutOf(options.timeoutMs,this.#name,"putSync()");
const value=this.#schema?_validateSync(this.#schema,item,`${this.#name}.putSync() item`,"putSync()"):item;
const attempt=()=>this.#tryPut(value,"putSync()")?void 0:_WOULD_WAIT;
this.#ring.waitForPutSync(attempt,{
timeoutMs,what:`${this.#name}.putSync()`,onTimeout:()=>new Full(`${this.#name} stayed full for ${timeoutMs} ms`)})}async putMany(items,options={
}){
const timeoutMs=_timeoutOf(options.timeoutMs,this.#name,"putMany()");
options.signal?.throwIfAborted();
const list=Symbol.iterator in Object(items)?[...items]:Array.from(items);
if(this.#codec==="structured"||this.#schema){
const deadline=timeoutMs===void 0?void 0:performance.now()+timeoutMs;
for(const item of list){
const left=deadline===void 0?void 0:Math.max(0,deadline-performance.now());
await this.put(item,{
timeoutMs:left,signal:options.signal})}return}this.#checkNumbers(list,"putMany()");
let done=0;
const attempt=()=>{
for(;
;
){
const n=this.#ring.tryPutNumbers(list,done,this.#joinable);
if(n===_CLOSED)throw this.#closedError("putMany()");
done+=n;
if(done===list.length)return void 0;
if(n===0)return _WOULD_WAIT}};
if(attempt()!==_WOULD_WAIT)return;
await this.#ring.waitForPut(attempt,{
timeoutMs,signal:options.signal,onTimeout:()=>new Full(`${this.#name} stayed full for ${timeoutMs} ms (${done} of ${list.length} put)`)})}#fullReason(){
return this.#maxsize>0&&this.#ring.count>=this.#maxsize?`maxsize ${this.#maxsize} reached`:`its ${this.#ring.capacity}-byte buffer has no room; raise 'bufferBytes'`}#tryPut(value,call){
const ring=this.#ring;
if(this.#codec!=="structured"){
this.#checkNumbers([value],call);
const n=ring.tryPutNumbers([value],0,this.#joinable);
if(n===_CLOSED)throw this.#closedError(call);
return n>0}if(ring.closed)throw this.#closedError(call);
const bytes=_encode(value,this.#name,call);
if(bytes.length+4>ring.capacity){
throw new RangeError(`${this.#name}.${call} item takes ${bytes.length+4} bytes, more than the queue's ${ring.capacity}-byte buffer; create the queue with a larger 'bufferBytes'`)}const r=ring.tryPut(bytes,this.#joinable);
if(r===_CLOSED)throw this.#closedError(call);
return r}#checkNumbers(values,call){
for(let i=0;
i<values.length;
i++){
const v=values[i];
if(typeof v!=="number"||this.#codec==="i32"&&(v|0)!==v){
throw new TypeError(`${this.#name}.${call} item${values.length>1?` ${i}`:""} is ${typeof v==="number"?v:typeof v}, but this queue's codec "${this.#codec}" carries only ${this.#codec==="i32"?"32-bit integers":"numbers"}`)}}}#closedError(call){
return new ChannelClosedError(`${this.#name}.${call} on a closed ${this.#name}: it takes no more items`)}#take=()=>{
if(this.#codec!=="structured"){
const out=[];
const r2=this.#ring.tryTakeNumbers(out,1);
if(r2===_CLOSED)throw this.#drainedError();
return r2===_WOULD_WAIT?r2:out[0]}const r=this.#ring.tryTake(this.#scratch);
if(r===_CLOSED)throw this.#drainedError();
if(r===_WOULD_WAIT)return r;
return _decode(this.#scratch.bytes.subarray(0,r))};
#drainedError(){
return new ChannelClosedError(`${this.#name} is closed and has no items left`)}async get(options={
}){
const timeoutMs=_timeoutOf(options.timeoutMs,this.#name,"get()");
options.signal?.throwIfAborted();
const item=this.#take();
if(item!==_WOULD_WAIT)return item;
return await this.#ring.waitForTake(this.#take,{
timeoutMs,signal:options.signal,onTimeout:()=>new Empty(`${this.#name} stayed empty for ${timeoutMs} ms`)})}getNowait(){
const item=this.#take();
if(item===_WOULD_WAIT)throw new Empty(`${this.#name} is empty`);
return item}getSync(options={
}){
const timeoutMs=_timeoutOf(options.timeoutMs,this.#name,"getSync()");
return this.#ring.waitForTakeSync(this.#take,{
timeoutMs,what:`${this.#name}.getSync()`,onTimeout:()=>new Empty(`${this.#name} stayed empty for ${timeoutMs} ms`)})}async getMany(max=1024,options={
}){
if(!Number.isInteger(max)||max<1){
throw new RangeError(`${this.#name}.getMany() max must be a positive integer, got ${max}`)}const timeoutMs=_timeoutOf(options.timeoutMs,this.#name,"getMany()");
options.signal?.throwIfAborted();
const attempt=()=>{
if(this.#codec!=="structured"){
const out2=[];
const r=this.#ring.tryTakeNumbers(out2,max);
if(r===_CLOSED)throw this.#drainedError();
return r===_WOULD_WAIT?r:out2}const first=this.#take();
if(first===_WOULD_WAIT)return _WOULD_WAIT;
const out=[first];
while(out.length<max){
const r=this.#ring.tryTake(this.#scratch);
if(typeof r!=="number")break;
out.push(_decode(this.#scratch.bytes.subarray(0,r)))}return out};
const items=attempt();
if(items!==_WOULD_WAIT)return items;
return await this.#ring.waitForTake(attempt,{
timeoutMs,signal:options.signal,onTimeout:()=>new Empty(`${this.#name} stayed empty for ${timeoutMs} ms`)})}close(){
this.#ring.close()}async*[Symbol.asyncIterator](){
for(;
;
){
let item;
try{
item=await this.get()}catch(error){
if(error instanceof ChannelClosedError&&this.#ring.closed&&this.#ring.count===0){
return}throw error}yield item}}#wire(){
return{
buffer:this.#ring.buffer,maxsize:this.#maxsize,codec:this.#codec}}[_WIRE](path){
if(this.#ring.closed){
throw new ChannelClosedError(`${path} is a closed ${this.#name}, which cannot be passed to another process; pass it before closing it`)}const kind=this.#joinable?KIND_JOINABLE:this instanceof SimpleQueue?KIND_SIMPLE:KIND_QUEUE;
return{
kind,module:import.meta.url,state:this.#wire()}}};
var JoinableQueue=class extends Queue{
taskDone(){
if(!rings.get(this).taskDone()){
throw new Error("JoinableQueue.taskDone() was called more times than items were put; call it once per item taken with get()")}}async join(options={
}){
const timeoutMs=_timeoutOf(options.timeoutMs,"JoinableQueue","join()");
options.signal?.throwIfAborted();
if(rings.get(this).unfinished<=0)return;
await rings.get(this).waitForJoin({
timeoutMs,signal:options.signal,onTimeout:()=>new DOMException(`JoinableQueue still had ${rings.get(this).unfinished} unfinished item(s) after ${timeoutMs} ms`,"TimeoutError")})}};
var SimpleQueue=class extends Queue{
constructor(options={
}){
super({
...options,maxsize:0})}};
var revive2=(function revive2(Class){
return state3=>{
adopting=state3;
return new Class}});
_registerReviver(KIND_QUEUE,revive2(Queue));
_registerReviver(KIND_JOINABLE,revive2(JoinableQueue));
_registerReviver(KIND_SIMPLE,revive2(SimpleQueue));
var WATCH_MS=50;
var ENDED2="has ended (it was terminated, or the process that started it ended)";
var PIPE_BYTES2=1<<18;
var _Connection=class{
manager;
name;
pid;
port;
stopped;
#pending=new Map;
#next=1;
#watch;
#watchLoops=0;
#pipe;
#sender;
#pumping=false;
#stopNotice=false;
#ending;
constructor(manager,name,pid2,port){
this.manager=manager;
this.name=name;
this.pid=pid2;
this.port=port;
connections.set(manager,this);
this.port.onmessage=e=>this.#onMessage(e.data);
this.port.unref();
const[mine,theirs]=Pipe({
bufferBytes:PIPE_BYTES2});
this.#pipe=mine;
this.#sender=new _OrderedSender(mine,(message2,transfer)=>_post(this.port,message2,transfer),[]);
const out=_outbox();
const pipe=_prepare(theirs,"the manager connection",out);
_post(this.port,{
t:"hello",pid:_myPid(),pipe},out.transfer)}#sendOrdered(payload,transfer=[],byPort=false){
this.#sender.send(payload,transfer,byPort);
if(!this.#pumping&&this.#pending.size>0)void this.#pump()}async#pump(){
this.#pumping=true;
try{
while(this.#pending.size>0&&this.stopped===void 0){
this.#onMessage(await this.#pipe.recv(),true)}}catch{
}finally{
this.#pumping=false;
if(this.#stopNotice&&this.stopped===void 0)void this.#drainThenStop("was shut down")}}call(objId,op,args,what,signal,proxy){
if(this.stopped===void 0&&this.pid!==void 0&&!_isAlive(this.pid)){
return this.#ended().then(()=>Promise.reject(new ManagerStoppedError(this.name,this.stopped,what)))}if(this.stopped!==void 0){
return Promise.reject(new ManagerStoppedError(this.name,this.stopped,what))}if(signal?.aborted)return Promise.reject(signal.reason);
const id=this.#next++;
let entry;
if(args.every(_jsonExact))entry=[id,objId,op,...args];
else{
const out=_outbox();
let sent2;
sendingTo=this.manager;
try{
sent2=_prepare(args,`${what} args`,out)}catch(error){
return Promise.reject(error)}finally{
sendingTo=void 0}entry=[id,objId,op,...sent2];
this.#batchJson=false;
if(out.wired)this.#batchWired=true;
for(const t of out.transfer)this.#batchTransfer.push(t)}this.#queue(entry);
if(this.#watch===void 0)this.#busy();
return new Promise((resolve,reject)=>{
const pending={
what,op,resolve,reject,objId,proxy};
this.#pending.set(id,pending);
if(signal){
const onAbort=()=>{
if(this.#pending.get(id)!==pending||pending.abandoned)return;
pending.abandoned=true;
if(this.stopped===void 0){
this.#flush();
this.#sendOrdered({
t:"cancel",id})}reject(signal.reason)};
signal.addEventListener("abort",onAbort,{
once:true});
const done=()=>signal.removeEventListener("abort",onAbort);
pending.resolve=v=>(done(),resolve(v));
pending.reject=e=>(done(),reject(e))}})}tell(objId,op,args){
if(this.stopped===void 0)this.#queue([0,objId,op,...args])}release(objId){
if(this.stopped!==void 0)return;
if(this.#decrefs===void 0||this.#batch.at(-1)!==this.#decrefs){
this.#decrefs=[0,0,"decref"];
this.#queue(this.#decrefs)}this.#decrefs.push(objId)}lend(objId,port,holder){
const token=`${_myPid()}.${++lent}`;
const connect={
t:"connect",port,token,obj:objId};
if(holder!==void 0)connect.holder=holder;
this.#sendOrdered(connect,[port],true);
return token}claim(token,objId){
this.tell(0,"claim",[token,objId])}#batch=[];
#batchTransfer=[];
#batchWired=false;
#batchJson=true;
#decrefs;
#queue(entry){
if(this.#batch.length===0)queueMicrotask(()=>this.#flush());
this.#batch.push(entry)}#flush(){
const calls=this.#batch;
if(calls.length===0)return;
const transfer=this.#batchTransfer;
const wired=this.#batchWired;
const json=this.#batchJson&&calls.length<=64;
this.#batch=[];
this.#batchTransfer=[];
this.#batchWired=false;
this.#batchJson=true;
if(this.stopped!==void 0)return;
try{
if(json)return this.#sendOrdered(JSON.stringify(calls));
if(wired)return this.#sendOrdered({
t:"calls",calls,wired:true},transfer,true);
return this.#sendOrdered(calls,transfer)}catch{
}for(const call of calls){
try{
this.#sendOrdered({
t:"calls",calls:[call],wired:true},transfer,true)}catch(error){
const id=call[0];
const what=this.#pending.get(id)?.what??"a call";
this.#settle(id,void 0,new TypeError(`${what} could not be sent to ${this.name}: ${error.message}`))}}}stop(how){
if(this.stopped!==void 0)return;
this.stopped=how;
this.port.close();
this.#pipe.close();
this.#idle();
for(const[id,pending]of this.#pending){
this.#pending.delete(id);
if(!pending.abandoned){
pending.reject(new ManagerStoppedError(this.name,how,pending.what))}}}#busy(){
this.port.ref();
if(_IN_WORKER){
this.#watch=true;
void this.#watchInWorker(++this.#watchLoops);
return}const watch=setInterval(()=>this.#tick(),WATCH_MS);
Deno.unrefTimer(watch);
this.#watch=watch}#tick(){
if(this.#pending.size===0||this.stopped!==void 0){
this.#idle();
return false}if(this.pid!==void 0&&!_isAlive(this.pid))void this.#ended();
return this.#watch!==void 0}#ended(){
return this.#ending??=this.#drainThenStop(ENDED2)}async#watchInWorker(loop){
for(;
;
){
await _nextEnding(_endings(),WATCH_MS);
if(this.#watchLoops!==loop||this.#watch!==true)return;
if(!this.#tick())return}}#idle(){
this.port.unref();
if(this.#watch!==void 0&&this.#watch!==true)clearInterval(this.#watch);
this.#watch=void 0}#settle(id,value,error){
const pending=this.#pending.get(id);
if(!pending)return;
this.#pending.delete(id);
if(pending.abandoned){
if(error===void 0&&pending.op==="acquire"){
this.tell(pending.objId,"release",[])}return}if(error===void 0)pending.resolve(value);
else pending.reject(error)}#onMessage(message2,viaPipe=false){
if(_settlePacked(message2,(id,value)=>this.#settle(id,value,void 0)))return;
switch(message2.t){
case"value":{
const{
id,value}=message2;
_reviveLoading(value).then(v=>this.#settle(id,v,void 0),e=>this.#settle(id,void 0,e));
return}case"error":return this.#settle(message2.id,void 0,rebuild(message2));
case"stopped":if(viaPipe)return this.stop("was shut down");
this.#stopNotice=true;
if(!this.#pumping)void this.#drainThenStop("was shut down");
return}}async#drainThenStop(how){
await _drain(this.#pipe,item=>this.#onMessage(item,true),()=>this.stopped===void 0);
this.stop(how)}};
function rebuild(failure){
const{
name,message:message2}=failure.error;
if(name==="LockHolderDiedError"){
return new LockHolderDiedError("manager Lock",failure.holderPid??0)}if(name==="TimeoutError"||name==="AbortError")return new DOMException(message2,name);
if(name==="TypeError")return new TypeError(message2);
if(name==="RangeError")return new RangeError(message2);
return Object.assign(new Error(message2),{
name})}var connections=new Map;
var lent=0;
var hosted=new Set;
var sendingTo;
var answering;
function _hostManager(id){
hosted.add(id)}function _sendingFrom(id,fn,sent2){
sendingTo=id;
answering=sent2;
try{
return fn()}finally{
sendingTo=void 0;
answering=void 0}}var states2=new WeakMap;
function state2(proxy,kind){
const s=states2.get(proxy);
if(!s)throw new TypeError(`${kind} objects come from a Manager (manager.${kind}())`);
return s}function describeProxy(s){
return`${CLASSES[s.kind].name} (object ${s.id} of ${s.name})`}function releasedError(s,what){
return new Error(`${what}: this ${describeProxy(s)} was released with [Symbol.dispose]() and cannot be used any more; keep the proxy until you are done with it, or use another proxy of the object`)}function invoke2(proxy,kind,op,args,signal){
const s=states2.get(proxy);
if(!s)return Promise.reject(state2(proxy,kind));
const what=`${s.kind}.${op}()`;
if(s.released)return Promise.reject(releasedError(s,what));
if(!s.conn){
return Promise.reject(new Error(`${what}: this proxy is a value stored inside ${s.name} and is used from outside`))}return s.conn.call(s.id,op,args,what,signal,proxy)}var collected=new FinalizationRegistry(s=>{
try{
giveBack(s)}catch{
}});
function giveBack(s){
if(s.released)return;
s.released=true;
s.conn?.release(s.id)}function dispose(proxy,kind){
const s=state2(proxy,kind);
collected.unregister(proxy);
giveBack(s)}function checkKey(key,what){
const t=typeof key;
if(t==="object"&&key!==null||t==="function"||t==="symbol"){
throw new TypeError(`${what} got a key that is a ${_describe(key)}: manager dict keys must be strings, numbers, bigints, booleans, null or undefined (a copied object is never the same key)`)}}function checkIndex(index,what){
if(!Number.isInteger(index)){
throw new TypeError(`${what} needs an integer index, got ${String(index)}`)}}function guarded(fn){
try{
return fn()}catch(error){
return Promise.reject(error)}}var DictProxy=class{
constructor(){
throw new TypeError("DictProxy objects come from a Manager (manager.dict())")}[Symbol.dispose](){
dispose(this,"DictProxy")}get(key,...fallback){
return guarded(()=>{
checkKey(key,"dict.get()");
return invoke2(this,"DictProxy","get",[key,...fallback.slice(0,1)])})}set(key,value){
return guarded(()=>{
checkKey(key,"dict.set()");
return invoke2(this,"DictProxy","set",[key,value])})}delete(key){
return guarded(()=>{
checkKey(key,"dict.delete()");
return invoke2(this,"DictProxy","delete",[key])})}has(key){
return guarded(()=>{
checkKey(key,"dict.has()");
return invoke2(this,"DictProxy","has",[key])})}keys(){
return invoke2(this,"DictProxy","keys",[])}values(){
return invoke2(this,"DictProxy","values",[])}entries(){
return invoke2(this,"DictProxy","entries",[])}size(){
return invoke2(this,"DictProxy","size",[])}length(){
return this.size()}clear(){
return invoke2(this,"DictProxy","clear",[])}update(entries){
return guarded(()=>{
let pairs;
if(entries instanceof Map||Symbol.iterator in Object(entries)){
pairs=Array.from(entries)}else if(typeof entries==="object"&&entries!==null){
pairs=Object.entries(entries)}else{
throw new TypeError(`dict.update() needs a Map, [key, value] pairs or a plain object, got ${_describe(entries)}`)}for(const pair of pairs){
if(!Array.isArray(pair)||pair.length!==2){
throw new TypeError(`dict.update() pairs must be [key, value], got ${_describe(pair)}`)}checkKey(pair[0],"dict.update()")}return invoke2(this,"DictProxy","update",[pairs])})}setDefault(key,fallback){
return guarded(()=>{
checkKey(key,"dict.setDefault()");
return invoke2(this,"DictProxy","setDefault",[key,fallback])})}pop(key,...fallback){
return guarded(()=>{
checkKey(key,"dict.pop()");
return invoke2(this,"DictProxy","pop",[key,...fallback.slice(0,1)])})}toObject(){
return invoke2(this,"DictProxy","toObject",[])}toMap(){
return invoke2(this,"DictProxy","toMap",[])}};
var ListProxy=class{
constructor(){
throw new TypeError("ListProxy objects come from a Manager (manager.list())")}[Symbol.dispose](){
dispose(this,"ListProxy")}get(index){
return guarded(()=>{
checkIndex(index,"list.get()");
return invoke2(this,"ListProxy","get",[index])})}set(index,value){
return guarded(()=>{
checkIndex(index,"list.set()");
return invoke2(this,"ListProxy","set",[index,value])})}push(...items){
return invoke2(this,"ListProxy","push",items)}pop(index=-1){
return guarded(()=>{
checkIndex(index,"list.pop()");
return invoke2(this,"ListProxy","pop",[index])})}length(){
return invoke2(this,"ListProxy","length",[])}slice(start,end){
return invoke2(this,"ListProxy","slice",[start??0,end??null])}toArray(){
return invoke2(this,"ListProxy","toArray",[])}insert(index,value){
return guarded(()=>{
checkIndex(index,"list.insert()");
return invoke2(this,"ListProxy","insert",[index,value])})}remove(value){
return invoke2(this,"ListProxy","remove",[value])}index(value){
return invoke2(this,"ListProxy","index",[value])}extend(items){
return guarded(()=>invoke2(this,"ListProxy","extend",[Array.from(items)]))}clear(){
return invoke2(this,"ListProxy","clear",[])}};
var NamespaceProxy=class{
constructor(){
throw new TypeError("NamespaceProxy objects come from a Manager (manager.namespace())")}[Symbol.dispose](){
dispose(this,"NamespaceProxy")}get(name){
return guarded(()=>{
if(typeof name!=="string"){
throw new TypeError(`namespace.get() needs a field name, got ${_describe(name)}`)}return invoke2(this,"NamespaceProxy","get",[name])})}set(name,value){
return guarded(()=>{
if(typeof name!=="string"){
throw new TypeError(`namespace.set() needs a field name, got ${_describe(name)}`)}return invoke2(this,"NamespaceProxy","set",[name,value])})}toObject(){
return invoke2(this,"NamespaceProxy","toObject",[])}};
var ValueProxy=class{
constructor(){
throw new TypeError("ValueProxy objects come from a Manager (manager.value())")}[Symbol.dispose](){
dispose(this,"ValueProxy")}get(){
return invoke2(this,"ValueProxy","get",[])}set(value){
return invoke2(this,"ValueProxy","set",[value])}add(delta){
return invoke2(this,"ValueProxy","add",[delta])}compareAndSet(expected,next){
return invoke2(this,"ValueProxy","compareAndSet",[expected,next])}};
var LockProxy=class{
constructor(){
throw new TypeError("LockProxy objects come from a Manager (manager.lock())")}[Symbol.dispose](){
dispose(this,"LockProxy")}acquire(options){
return guarded(async()=>{
const{
deadline,signal}=_waitOptions(options,"lock.acquire()");
const timeoutMs=deadline===Infinity?null:options.timeoutMs;
await invoke2(this,"LockProxy","acquire",[timeoutMs],signal);
return{
release:()=>this.release(),[Symbol.asyncDispose]:()=>this.release()}})}release(){
return invoke2(this,"LockProxy","release",[])}locked(){
return invoke2(this,"LockProxy","locked",[])}};
var QueueProxy=class{
constructor(){
throw new TypeError("QueueProxy objects come from a Manager (manager.queue())")}[Symbol.dispose](){
dispose(this,"QueueProxy")}put(item,options){
return guarded(()=>{
const{
timeoutMs,block,signal}=queueOptions(options,"queue.put()");
return asQueueError(invoke2(this,"QueueProxy","put",[item,block,timeoutMs],signal))})}get(options){
return guarded(()=>{
const{
timeoutMs,block,signal}=queueOptions(options,"queue.get()");
return asQueueError(invoke2(this,"QueueProxy","get",[block,timeoutMs],signal))})}qsize(){
return invoke2(this,"QueueProxy","qsize",[])}empty(){
return invoke2(this,"QueueProxy","empty",[])}full(){
return invoke2(this,"QueueProxy","full",[])}};
function asQueueError(call){
return call.catch(error=>{
if(error instanceof Error&&error.constructor===Error){
if(error.name==="Full")throw new Full(error.message);
if(error.name==="Empty")throw new Empty(error.message)}throw error})}function queueOptions(options,what){
const{
deadline,signal}=_waitOptions(options,what);
const block=options?.block??true;
if(typeof block!=="boolean"){
throw new TypeError(`${what} block must be a boolean, got ${_describe(block)}`)}return{
timeoutMs:deadline===Infinity?null:options.timeoutMs,block,signal}}var CLASSES={
dict:DictProxy,list:ListProxy,namespace:NamespaceProxy,value:ValueProxy,lock:LockProxy,queue:QueueProxy};
for(const cls of Object.values(CLASSES)){
_inspectable(cls,proxy=>{
const s=state2(proxy,"proxy");
return s.released?{
manager:s.name,id:s.id,released:true}:{
manager:s.name,id:s.id}})}function _makeProxy(kind,id,manager,name,pid2,conn){
const proxy=Object.create(CLASSES[kind].prototype);
const s={
manager,name,pid:pid2,id,kind,conn,released:false};
states2.set(proxy,s);
if(conn)collected.register(proxy,s,proxy);
return proxy}function _storedIds(value,manager,ids=[]){
if(typeof value!=="object"||value===null)return ids;
const s=states2.get(value);
if(s){
if(s.manager===manager&&!s.conn)ids.push(s.id);
return ids}const proto=Object.getPrototypeOf(value);
if(Array.isArray(value)||value instanceof Set){
for(const item of value)_storedIds(item,manager,ids)}else if(value instanceof Map){
for(const[k,v]of value){
_storedIds(k,manager,ids);
_storedIds(v,manager,ids)}}else if(proto===Object.prototype||proto===null){
for(const item of Object.values(value))_storedIds(item,manager,ids)}return ids}var WIRE_KIND="troupe.ManagerProxy";
for(const cls of Object.values(CLASSES)){
Object.defineProperty(cls.prototype,_WIRE,{
value:function wire2(path,out){
const s=state2(this,"proxy");
if(s.released){
throw new TypeError(`${path} is a ${describeProxy(s)} that was released; it cannot travel`)}const travelling={
manager:s.manager,name:s.name,pid:s.pid,id:s.id,kind:s.kind};
if(sendingTo===s.manager){
answering?.push(s.id);
return{
kind:WIRE_KIND,module:import.meta.url,state:travelling}}if(!s.conn){
throw new TypeError(`${path} is a ${s.kind} proxy stored in ${s.name}; it cannot travel`)}if(s.conn.stopped!==void 0){
throw new TypeError(`${path} is a ${s.kind} proxy of ${s.name}, which ${s.conn.stopped}: only a proxy of a running manager can be sent`)}const{
port1,port2}=new MessageChannel;
travelling.token=s.conn.lend(s.id,port1,out?.to);
travelling.port=port2;
return{
kind:WIRE_KIND,module:import.meta.url,state:travelling,transfer:[port2]}}})}_registerReviver(WIRE_KIND,wire2=>{
const{
manager,name,pid:pid2,id,kind,port,token}=wire2;
let conn=connections.get(manager);
if(hosted.has(manager)){
if(port){
port.postMessage({
t:"bye"});
port.close()}return _makeProxy(kind,id,manager,name,pid2,void 0)}if(port){
if(conn){
conn.claim(token,id);
port.close()}else conn=new _Connection(manager,name,pid2,port)}else if(!conn){
throw new TypeError(`a ${kind} proxy of ${name} arrived without a way to reach its manager`)}return _makeProxy(kind,id,manager,name,pid2,conn)});
function _connect(manager,name,pid2,port){
return new _Connection(manager,name,pid2,port)}var Moved=class{
value;
ids;
constructor(value,ids){
this.value=value;
this.ids=ids}};
var KINDS=new Set(["dict","list","namespace","value","lock","queue"]);
var WATCH_MS2=50;
var SETTLE_MS=200;
var SENDER_GRACE_MS=5e3;
function named(name,message2){
return Object.assign(new Error(message2),{
name})}function timeoutError(what,ms){
return new DOMException(`${what} timed out after ${ms} ms`,"TimeoutError")}function equal(a,b){
if(Object.is(a,b))return true;
if(typeof a!=="object"||typeof b!=="object"||a===null||b===null)return false;
if(Object.getPrototypeOf(a)!==Object.getPrototypeOf(b))return false;
if(a instanceof Date)return a.getTime()===b.getTime();
if(Array.isArray(a)){
const bb=b;
return a.length===bb.length&&a.every((x,i)=>equal(x,bb[i]))}if(a instanceof Map){
const bb=b;
return a.size===bb.size&&[...a].every(([k,v])=>bb.has(k)&&equal(v,bb.get(k)))}if(Object.getPrototypeOf(a)!==Object.prototype&&Object.getPrototypeOf(a)!==null){
return false}const ka=Object.keys(a);
const kb=Object.keys(b);
return ka.length===kb.length&&ka.every(k=>equal(a[k],b[k]))}function at2(items,index,what){
const i=index<0?index+items.length:index;
if(i<0||i>=items.length){
throw named("IndexError",`${what}: index ${index} is out of range for a list of length ${items.length}`)}return i}var ManagerServer=class extends Actor{
#id;
#name;
#objects=new Map;
#next=1;
#clients=new Set;
#waiting=false;
#lends=new Map;
#early=new Set;
#endings=-1;
#settling=false;
#stopped=false;
constructor(id,name,port){
super();
this.#id=id;
this.#name=name;
_hostManager(id);
this.#accept(port);
void this.#watchEndings()}async#watchEndings(){
while(!this.#stopped){
const seen=_endings();
this.#checkWaiters();
this.#sweep();
await _nextEnding(seen,this.#settling?WATCH_MS2:Infinity)}}onStop(){
for(const client of this.#clients){
this.#post(client,{
t:"stopped"});
client.port.postMessage({
t:"stopped"});
this.#drop(client)}this.#stopped=true;
_wakeEndingWaits()}#accept(port){
const client={
port,pipe:void 0,inOrder:new _InOrder(payload=>this.#run(client,payload)),pid:0,open:true,chain:void 0,waits:new Map,held:new Map,lend:void 0};
this.#clients.add(client);
port.onmessage=e=>this.#onMessage(client,e.data);
return client}#drop(client){
if(!client.open)return;
client.open=false;
for(const cancel of client.waits.values())cancel();
client.waits.clear();
client.port.close();
client.pipe?.close();
this.#clients.delete(client);
if(client.lend!==void 0)this.#giveBackLend(client.lend,true);
const held=[...client.held];
client.held.clear();
for(const[id,n]of held)for(let i=0;
i<n;
i++)this.#decref(id)}#sweep(){
const endings=_endings();
if(endings===this.#endings&&!this.#settling)return;
this.#endings=endings;
this.#settling=false;
const now=performance.now();
const ended=(process,delayMs)=>{
if(_isAlive(process.pid))return false;
process.endedAt??=now;
if(now-process.endedAt>=delayMs)return true;
this.#settling=true;
return false};
for(const client of this.#clients){
if(client.pid!==0&&ended(client,SETTLE_MS))this.#drop(client)}for(const[token,lend]of this.#lends){
if(lend.receiver&&ended(lend.receiver,SETTLE_MS))this.#giveBackLend(token,true);
else if(ended(lend.sender,SENDER_GRACE_MS))this.#giveBackLend(token,false)}}#onMessage(client,message2){
if(typeof message2==="string"||Array.isArray(message2))return this.#run(client,message2);
switch(message2.t){
case"ordered":return client.inOrder.take(message2.seq,message2.payload);
case"calls":return this.#run(client,message2);
case"hello":client.pid=message2.pid;
if(message2.pipe!==void 0){
client.pipe=_revive(message2.pipe);
void client.inOrder.read(client.pipe)}if(client.lend!==void 0){
this.#claim(client,client.lend,this.#lends.get(client.lend).obj)}return;
case"cancel":return this.#run(client,message2);
case"bye":return this.#drop(client)}}#run(client,message2){
let calls;
if(typeof message2==="string")calls=JSON.parse(message2);
else if(Array.isArray(message2))calls=message2;
else if(message2.t==="cancel"){
client.waits.get(message2.id)?.();
client.waits.delete(message2.id);
return}else if(message2.t==="connect"){
return this.#connect(client,message2)}else{
const wired=message2.calls;
client.chain=(client.chain??Promise.resolve()).then(()=>_reviveLoading(wired)).then(revived=>this.#runAll(client,revived,true),error=>{
for(const call of wired)this.#fail(client,call[0],error)});
return}if(client.chain)client.chain=client.chain.then(()=>this.#runAll(client,calls,false));
else this.#runAll(client,calls,false)}#post(client,message2,transfer=[]){
const byPort=()=>{
if(client.open)_post(client.port,message2,transfer)};
if(client.pipe&&transfer.length===0)client.pipe.send(message2).catch(byPort);
else byPort()}#prepare(client,value,out){
const sent2=[];
out.to=client.pid||void 0;
const prepared=_sendingFrom(this.#id,()=>_prepare(value,"the value",out),sent2);
for(const id of sent2)this.#incref(id,client);
return prepared}#runAll(client,calls,wired){
if(!client.open)return;
const values=[];
const transfer=[];
let json=true;
for(const call of calls){
const id=call[0];
let result;
try{
result=this.#dispatch(client,id,call[1],call[2],call.slice(3),wired)}catch(error){
this.#fail(client,id,error);
continue}if(result instanceof Promise){
result.then(v=>this.#reply(client,id,v),e=>this.#fail(client,id,e));
continue}if(result instanceof Moved){
this.#reply(client,id,result);
continue}if(id===0||!client.open)continue;
if(result===void 0||_jsonExact(result)){
values.push(id,result);
continue}const out=_outbox();
let sent2;
try{
sent2=this.#prepare(client,result,out)}catch(error){
this.#fail(client,id,error);
continue}if(out.wired){
_post(client.port,{
t:"value",id,value:sent2,wired:true},out.transfer);
continue}json=false;
values.push(id,sent2);
for(const t of out.transfer)transfer.push(t)}if(values.length===0||!client.open)return;
if(!json)return this.#post(client,values,transfer);
for(let i=0;
i<values.length;
i+=2){
if(values[i+1]===void 0){
values[i]=-values[i];
values[i+1]=0}}this.#post(client,JSON.stringify(values))}#reply(client,id,value){
if(value instanceof Moved){
try{
this.#reply(client,id,value.value)}finally{
for(const objId of value.ids)this.#decref(objId)}return}if(id===0||!client.open)return;
if(value===void 0)return this.#post(client,JSON.stringify([-id,0]));
if(_jsonExact(value))return this.#post(client,JSON.stringify([id,value]));
const out=_outbox();
try{
const sent2=this.#prepare(client,value,out);
const message2=out.wired?{
t:"value",id,value:sent2,wired:true}:[id,sent2];
if(out.wired)_post(client.port,message2,out.transfer);
else this.#post(client,message2,out.transfer)}catch(error){
this.#fail(client,id,error)}}#fail(client,id,error){
if(id===0||!client.open)return;
const failure={
t:"error",id,error:_toWireError(error)};
if(error instanceof LockHolderDiedError)failure.holderPid=error.holderPid;
delete failure.error.stack;
this.#post(client,failure)}#dispatch(client,id,objId,op,args,wired){
if(objId===0)return this.#managerOp(client,op,args,wired);
const obj=this.#objects.get(objId);
if(!obj){
throw new Error(`${this.#name} holds no object ${objId}: it was freed once no proxy and no stored value referred to it any more`)}const what=`${obj.kind}.${op}()`;
const t=wired||obj.holds?this.#track(obj):void 0;
switch(obj.kind){
case"dict":return dictOp(obj.map,op,args,what,t);
case"list":return listOp(obj.items,op,args,what,t);
case"namespace":return namespaceOp(obj.fields,op,args,what,t);
case"value":return valueOp(obj,op,args,what,t);
case"lock":return this.#lockOp(obj,client,id,op,args,what);
case"queue":return this.#queueOp(obj,client,id,op,args,what,t)}}#managerOp(client,op,args,wired){
switch(op){
case"create":{
if(!KINDS.has(args[0]))break;
const id=this.#create(args[0],args[1],args[2]);
if(wired)this.#track(this.#objects.get(id)).keep(args[1]);
this.#incref(id,client);
return id}case"decref":for(const id of args)this.#decref(id,client);
return void 0;
case"claim":return this.#claim(client,args[0],args[1]);
case"_count":return this.#objects.size}throw new TypeError(`${this.#name} has no operation '${op}'`)}#create(kind,initial,extra){
const id=this.#next++;
const counted={
refs:0,holds:false};
let obj;
switch(kind){
case"dict":obj={
...counted,kind,map:new Map(initial)};
break;
case"list":obj={
...counted,kind,items:initial??[]};
break;
case"namespace":obj={
...counted,kind,fields:new Map(initial)};
break;
case"value":obj={
...counted,kind,value:initial};
break;
case"lock":obj={
...counted,kind,holder:0,waiters:[]};
break;
case"queue":obj={
...counted,kind,items:[],maxsize:extra??0,getters:[],putters:[]};
break}this.#objects.set(id,obj);
return id}#incref(id,client){
const obj=this.#objects.get(id);
if(!obj||client?.open===false)return false;
obj.refs++;
if(client)client.held.set(id,(client.held.get(id)??0)+1);
return true}#decref(id,client){
if(client){
const n=client.held.get(id);
if(!n)return;
if(n===1)client.held.delete(id);
else client.held.set(id,n-1)}const obj=this.#objects.get(id);
if(obj&&--obj.refs===0)this.#free(id,obj)}#free(id,obj){
this.#objects.delete(id);
const freed=()=>new Error(`${this.#name} freed the ${obj.kind} the call waited on`);
switch(obj.kind){
case"lock":for(const w of[...obj.waiters])w.reject(freed());
return;
case"queue":for(const w of[...obj.getters,...obj.putters])w.reject(freed());
return this.#track(obj).drop(obj.items);
case"dict":return this.#track(obj).drop(obj.map);
case"list":return this.#track(obj).drop(obj.items);
case"namespace":return this.#track(obj).drop(obj.fields);
case"value":return this.#track(obj).drop(obj.value)}}#track(obj){
return{
keep:value=>{
const ids=_storedIds(value,this.#id);
if(ids.length>0)obj.holds=true;
for(const id of ids)this.#incref(id)},drop:value=>{
if(!obj.holds)return;
for(const id of _storedIds(value,this.#id))this.#decref(id)},out:value=>{
const ids=obj.holds?_storedIds(value,this.#id):[];
return ids.length>0?new Moved(value,ids):value}}}#connect(sender,message2){
const{
port,token,obj,holder}=message2;
if(this.#early.delete(token)){
port.close();
return}const carried=this.#accept(port);
if(!this.#incref(obj))return;
carried.lend=token;
this.#lends.set(token,{
obj,sender:{
pid:sender.pid},receiver:holder===void 0?void 0:{
pid:holder},carried})}#claim(client,token,obj){
if(!client.open)return;
const lend=this.#lends.get(token);
if(!lend){
this.#early.add(token);
this.#incref(obj,client);
return}this.#lends.delete(token);
lend.carried.lend=void 0;
client.held.set(lend.obj,(client.held.get(lend.obj)??0)+1);
if(lend.carried!==client)this.#drop(lend.carried)}#giveBackLend(token,lost){
const lend=this.#lends.get(token);
if(!lend)return;
this.#lends.delete(token);
lend.carried.lend=void 0;
if(lost)this.#drop(lend.carried);
this.#decref(lend.obj)}#wait(list,client,id,timeoutMs,what,item){
return new Promise((resolve,reject)=>{
const waiter={
client,id,resolve,reject,timer:void 0,item};
const leave=()=>{
const i=list.indexOf(waiter);
if(i>=0)list.splice(i,1);
waiter.timer?.();
client.waits.delete(id)};
waiter.resolve=v=>(leave(),resolve(v));
waiter.reject=e=>(leave(),reject(e));
if(timeoutMs!==null){
waiter.timer=_after(timeoutMs,()=>waiter.reject(timeoutError(what,timeoutMs)))}client.waits.set(id,()=>waiter.reject(new DOMException("cancelled","AbortError")));
list.push(waiter);
this.#watchWaiters()})}#watchWaiters(){
this.#waiting=true}#checkWaiters(){
if(!this.#waiting)return;
let waiting=false;
for(const obj of this.#objects.values()){
if(obj.kind==="lock"&&obj.waiters.length>0){
waiting=true;
if(obj.holder!==0&&!_isAlive(obj.holder))this.#holderDied(obj)}else if(obj.kind==="queue"){
for(const w of[...obj.getters,...obj.putters]){
waiting=true;
if(!alive(w.client))w.reject(new Error("the waiting process ended"))}}}this.#waiting=waiting}#holderDied(lock2){
for(const w of[...lock2.waiters]){
w.reject(new LockHolderDiedError("manager Lock",lock2.holder))}}#lockOp(lock2,client,id,op,args,what){
switch(op){
case"acquire":{
if(lock2.holder===0){
lock2.holder=client.pid;
return void 0}if(!_isAlive(lock2.holder))throw new LockHolderDiedError("manager Lock",lock2.holder);
const timeoutMs=args[0];
if(timeoutMs===0)throw timeoutError("lock.acquire()",0);
return this.#wait(lock2.waiters,client,id,timeoutMs,"lock.acquire()")}case"release":{
if(lock2.holder===0){
throw named("RuntimeError","lock.release() of a manager Lock that is not held")}if(lock2.holder!==client.pid&&_isAlive(lock2.holder)){
throw named("RuntimeError",`lock.release() was called by process ${client.pid}, but process ${lock2.holder} holds this manager Lock`)}lock2.holder=0;
while(lock2.waiters.length>0){
const next=lock2.waiters[0];
if(!alive(next.client)){
next.reject(new Error("the waiting process ended"));
continue}lock2.holder=next.client.pid;
next.resolve(void 0);
break}return void 0}case"locked":return lock2.holder!==0}throw new TypeError(`${what}: a manager Lock has no method '${op}'`)}#queueOp(q,client,id,op,args,what,t){
const full=()=>q.maxsize>0&&q.items.length>=q.maxsize;
const settle=()=>{
while(true){
const putter=q.putters[0];
if(putter&&!full()){
q.items.push(putter.item);
putter.resolve(void 0);
continue}const getter=q.getters.find(g=>alive(g.client));
if(getter&&q.items.length>0){
const item=q.items.shift();
getter.resolve(t?t.out(item):item);
continue}return}};
switch(op){
case"put":{
const[item,block,timeoutMs]=args;
if(!full()&&q.putters.length===0){
t?.keep(item);
q.items.push(item);
settle();
return void 0}if(!block)throw named("Full",`queue.put(): the queue is full (maxsize ${q.maxsize})`);
t?.keep(item);
const waiting=this.#wait(q.putters,client,id,timeoutMs,what,item);
if(t)waiting.catch(()=>t.drop(item));
return waiting}case"get":{
const[block,timeoutMs]=args;
if(q.items.length>0&&q.getters.length===0){
const item=q.items.shift();
settle();
return t?t.out(item):item}if(!block)throw named("Empty","queue.get(): the queue is empty");
return this.#wait(q.getters,client,id,timeoutMs,what)}case"qsize":return q.items.length;
case"empty":return q.items.length===0;
case"full":return full()}throw new TypeError(`${what}: a manager Queue has no method '${op}'`)}};
task(import.meta,ManagerServer,"ManagerServer");
function alive(client){
return client.open&&(client.pid===0||_isAlive(client.pid))}function replace(t,value,old){
t.keep(value);
t.drop(old)}function dictOp(map,op,args,what,t){
const[key,value]=args;
switch(op){
case"get":return map.has(key)||args.length<2?map.get(key):value;
case"set":if(t)replace(t,value,map.get(key));
map.set(key,value);
return void 0;
case"delete":t?.drop(map.get(key));
return map.delete(key);
case"has":return map.has(key);
case"keys":return[...map.keys()];
case"values":return[...map.values()];
case"entries":return[...map.entries()];
case"size":return map.size;
case"clear":t?.drop(map);
map.clear();
return void 0;
case"update":for(const[k,v]of key){
if(t)replace(t,v,map.get(k));
map.set(k,v)}return void 0;
case"setDefault":if(!map.has(key)){
t?.keep(value);
map.set(key,value)}return map.get(key);
case"pop":{
if(map.has(key)){
const found=map.get(key);
map.delete(key);
return t?t.out(found):found}if(args.length>1)return value;
throw named("KeyError",`${what}: the key ${JSON.stringify(key)??String(key)} is not in the dict`)}case"toObject":return Object.fromEntries(map);
case"toMap":return new Map(map)}throw new TypeError(`${what}: a manager dict has no method '${op}'`)}function listOp(items,op,args,what,t){
switch(op){
case"get":return items[at2(items,args[0],what)];
case"set":{
const i=at2(items,args[0],what);
if(t)replace(t,args[1],items[i]);
items[i]=args[1];
return void 0}case"push":t?.keep(args);
for(const item of args)items.push(item);
return items.length;
case"pop":{
if(items.length===0)throw named("IndexError",`${what}: the list is empty`);
const item=items.splice(at2(items,args[0],what),1)[0];
return t?t.out(item):item}case"length":return items.length;
case"slice":return items.slice(args[0],args[1]??void 0);
case"toArray":return items.slice();
case"insert":{
const index=args[0];
const i=Math.max(0,Math.min(items.length,index<0?index+items.length:index));
t?.keep(args[1]);
items.splice(i,0,args[1]);
return void 0}case"remove":case"index":{
const i=items.findIndex(item=>equal(item,args[0]));
if(i<0)throw named("ValueError",`${what}: the value is not in the list`);
if(op==="index")return i;
const removed=items.splice(i,1);
t?.drop(removed);
return void 0}case"extend":t?.keep(args[0]);
for(const item of args[0])items.push(item);
return void 0;
case"clear":t?.drop(items);
items.length=0;
return void 0}throw new TypeError(`${what}: a manager list has no method '${op}'`)}function namespaceOp(fields,op,args,what,t){
switch(op){
case"get":return fields.get(args[0]);
case"set":if(t)replace(t,args[1],fields.get(args[0]));
fields.set(args[0],args[1]);
return void 0;
case"toObject":return Object.fromEntries(fields)}throw new TypeError(`${what}: a manager namespace has no method '${op}'`)}function valueOp(cell,op,args,what,t){
switch(op){
case"get":return cell.value;
case"set":if(t)replace(t,args[0],cell.value);
cell.value=args[0];
return void 0;
case"add":{
const[delta]=args;
const v=cell.value;
if(typeof v==="number"&&typeof delta==="number")return cell.value=v+delta;
if(typeof v==="bigint"&&typeof delta==="bigint")return cell.value=v+delta;
throw new TypeError(`${what} adds a number to a number or a bigint to a bigint; the value is a ${typeof v} and the delta a ${typeof delta}`)}case"compareAndSet":if(!equal(cell.value,args[0]))return false;
if(t)replace(t,args[1],cell.value);
cell.value=args[1];
return true}throw new TypeError(`${what}: a manager value has no method '${op}'`)}var managers=0;
var objectCount;
var Manager=class Manager{
name;
#id;
#handle;
#conn;
static{
objectCount=m=>m.#conn.call(0,"_count",[],"manager._count()");
_inspectable(this,m=>({
name:m.name,pid:m.#handle.pid,alive:m.#handle.alive}))}constructor(id,handle,conn){
this.#id=id;
this.name=handle.name;
this.#handle=handle;
this.#conn=conn}static async start(options={
}){
if(typeof options!=="object"||options===null){
throw new TypeError(`Manager.start() options must be an object, got ${_describe(options)}`)}const{
permissions="inherit",name=`Manager-${++managers}`}=options;
if(typeof name!=="string"){
throw new TypeError(`Manager.start() name must be a string, got ${_describe(name)}`)}const id=crypto.randomUUID();
const{
port1,port2}=new MessageChannel;
let handle;
try{
handle=await _spawnHandle(ManagerServer,{
args:[id,name,port2],name,permissions})}catch(error){
port1.close();
throw error}const conn=_connect(id,name,handle.pid,port1);
handle.onEnd(exit=>{
conn.stop(exit.code===0?"was shut down":`${exit.description} (exit code ${exit.code})`)});
return new Manager(id,handle,conn)}get pid(){
return this.#handle.pid}isAlive(){
return this.#handle.alive}async#create(kind,initial,extra){
const id=await this.#conn.call(0,"create",[kind,initial,extra],`manager.${kind}()`);
return _makeProxy(kind,id,this.#id,this.name,this.pid,this.#conn)}dict(initial){
let pairs;
if(initial!==void 0){
if(initial instanceof Map||Symbol.iterator in Object(initial)){
pairs=Array.from(initial)}else if(typeof initial==="object"&&initial!==null){
pairs=Object.entries(initial)}else{
return Promise.reject(new TypeError(`manager.dict() initial must be a Map, [key, value] pairs or a plain object, got ${_describe(initial)}`))}}return this.#create("dict",pairs)}list(initial){
return this.#create("list",initial===void 0?void 0:Array.from(initial))}namespace(initial){
if(initial!==void 0&&(typeof initial!=="object"||initial===null)){
return Promise.reject(new TypeError(`manager.namespace() initial must be a plain object, got ${_describe(initial)}`))}return this.#create("namespace",initial&&Object.entries(initial))}value(initial){
return this.#create("value",initial)}lock(){
return this.#create("lock")}queue(options={
}){
const maxsize=options.maxsize??0;
if(!Number.isInteger(maxsize)||maxsize<0){
return Promise.reject(new RangeError(`manager.queue() maxsize must be a non-negative integer, got ${maxsize}`))}return this.#create("queue",void 0,maxsize)}async shutdown(options={
}){
const limit=_checkTimeout(options.timeoutMs,"shutdown() timeoutMs")??5e3;
this.#conn.stop("was shut down");
await this.#handle.stop(limit)}terminate(){
this.#handle.terminate(-15)}[Symbol.asyncDispose](){
return this.shutdown()}};
var STOP=-1;
var deliver;
var _deliverToActor=(function _deliverToActor(message2){
return deliver!==void 0&&deliver(message2)});
var plain2=(function plain2(value){
return value===null||typeof value!=="object"&&typeof value!=="function"});
var _runActor=(async function _runActor(spec,inbox,finish2){
_adoptSelf(void 0,inbox);
const name=_context().self.name;
const mailbox2=spec.mailbox?new Int32Array(spec.mailbox):void 0;
let queue=[];
let head=0;
let running=false;
let stopping=false;
let instance;
let values=[];
let errors=[];
let transfer=[];
let wired=false;
let json=true;
let reviving7;
const pipe=spec.pipe===void 0?void 0:_revive(spec.pipe);
const post2=((message2,moved,byPort)=>{
if(pipe&&!byPort&&moved.length===0){
pipe.send(message2).catch(()=>self.postMessage(message2))}else _post(self,message2,moved)});
const flush=(()=>{
if(values.length===0&&errors.length===0)return;
let message2=errors.length===0&&!wired?values:{
t:"replies",values,errors,wired};
if(json&&errors.length===0&&values.length<=2*_JSON_MAX){
const exact=[];
for(let i=0;
i<values.length;
i+=2){
if(values[i+1]===void 0)exact.push(-values[i],0);
else exact.push(values[i],values[i+1])}message2=JSON.stringify(exact)}const moved=transfer;
const hasObjects=wired;
values=[];
errors=[];
transfer=[];
wired=false;
json=true;
try{
post2(message2,moved,hasObjects)}catch(error){
const replies=message2;
const sent2=Array.isArray(replies)?replies:replies.values;
const failed2=Array.isArray(replies)?[]:replies.errors??[];
const again=!Array.isArray(replies)&&replies.wired;
for(let i=0;
i<sent2.length;
i+=2){
try{
_post(self,{
t:"replies",values:[sent2[i],sent2[i+1]],wired:again},moved)}catch{
failed2.push({
id:sent2[i],error:_toWireError(error)})}}if(failed2.length>0)self.postMessage({
t:"replies",values:[],errors:failed2})}});
const reply=((id,method,value)=>{
if(!plain2(value)){
const out=_outbox();
out.to=_context().parent?.pid;
try{
value=_prepare(value,`the value ${name}.${method}() returned`,out)}catch(error){
errors.push({
id,error:_toWireError(error)});
return}if(out.wired)wired=true;
for(const t of out.transfer)transfer.push(t)}if(json&&value!==void 0&&!_jsonExact(value))json=false;
values.push(id,value)});
const take2=(()=>{
const id=queue[head];
const method=queue[head+1];
const argc=queue[head+2];
const args=argc===0?[]:queue.slice(head+3,head+3+argc);
queue.fill(void 0,head,head+3+argc);
head+=3+argc;
if(head>4096&&head*2>queue.length){
queue=queue.slice(head);
head=0}if(mailbox2&&id!==STOP){
if(Atomics.sub(mailbox2,0,1)>=spec.capacity)Atomics.notify(mailbox2,0)}return[id,method,args]});
const stop=(async function stop2(){
stopping=true;
while(head<queue.length){
const[id]=take2();
if(id>0){
errors.push({
id,error:{
name:"Error",message:`${name} stopped before handling this call`}})}}flush();
try{
await instance.onStop()}catch(error){
return finish2(1,error)}return finish2(0)});
const drain=(async function drain2(){
running=true;
while(head<queue.length){
const[id,method,args]=take2();
if(id===STOP)return stop();
try{
const fn=instance[method];
if(typeof fn!=="function"||method in Actor.prototype){
throw _actorMethodError(name,instance,method)}let value=fn.apply(instance,args);
if(value instanceof Promise){
flush();
value=await value}if(id!==0)reply(id,method,value)}catch(error){
if(id===0){
flush();
return finish2(1,error)}errors.push({
id,error:_toWireError(error)})}if(stopping)return stop()}running=false;
flush()});
const enqueue=(entries=>{
for(let i=0;
i<entries.length;
i++)queue.push(entries[i]);
if(!running&&instance)void drain()});
const revived=async function revived2(calls){
const kept=[];
for(let i=0;
i<calls.length;
i+=3+calls[i+2]){
const id=calls[i];
const entry=calls.slice(i,i+3+calls[i+2]);
try{
kept.push(...await _reviveLoading(entry))}catch(error){
if(id===0)throw error;
errors.push({
id,error:_toWireError(error)})}}flush();
return kept};
const STOPPED=[STOP,"",0];
const inOrder=new _InOrder((payload=>deliver(payload)));
if(pipe)void inOrder.read(pipe);
deliver=(message2=>{
let entries;
let wiredCalls=false;
if(typeof message2==="string")entries=JSON.parse(message2);
else if(Array.isArray(message2))entries=message2;
else if(message2.t==="stop")entries=STOPPED;
else if(message2.t==="ordered"){
inOrder.take(message2.seq,message2.payload);
return true}else if(message2.t==="calls"){
entries=message2.calls;
wiredCalls=true}else return false;
if(!reviving7&&!wiredCalls){
enqueue(entries);
return true}const ready=entries;
const next=(reviving7??Promise.resolve()).then(()=>wiredCalls?revived(ready):ready).then(enqueue,error=>finish2(1,error)).finally(()=>{
if(reviving7===next)reviving7=void 0});
reviving7=next;
return true});
_setSelfStop(()=>{
stopping=true});
try{
if(spec.wired)await _reviveLoading(spec.args);
const target=_resolveTask(spec.task);
instance=new target(...spec.args);
await instance.onStart()}catch(error){
return finish2(1,error)}self.postMessage({
t:"actor-ready"});
if(stopping)return stop();
if(head<queue.length)void drain()});
var posted=false;
var up;
var sent;
var post=((message2,transfer)=>{
posted=true;
if(up===void 0)return _post(self,message2,transfer);
_post(up,message2,transfer);
Atomics.add(sent,EXIT_SENT,1)});
var realClose=self.close.bind(self);
var realExit=Deno.exit;
var exiting=false;
var selfPid;
var exitCell;
var exitNow=(function exitNow(code,error){
if(!exiting){
exiting=true;
try{
flushAnswers()}catch{
}if(selfPid!==void 0)_markEnded(selfPid);
if(exitCell&&!error&&!posted){
Atomics.store(exitCell,EXIT_CODE,code);
if(Atomics.compareExchange(exitCell,EXIT_STATE,EXIT_RUNNING,EXIT_REPORTED)===EXIT_RUNNING){
Atomics.notify(exitCell,EXIT_STATE);
Atomics.wait(exitCell,EXIT_STATE,EXIT_REPORTED,EXIT_SEEN_WAIT_MS)}}else{
const message2=error?{
t:"exit",code,error}:{
t:"exit",code};
post(message2);
if(exitCell)Atomics.wait(exitCell,EXIT_STATE,EXIT_RUNNING,EXIT_SEEN_WAIT_MS)}}realClose();
return realExit(code)});
var finish=(function finish(code,error){
if(exiting)return;
const report=(()=>{
if(code===0&&typeof Deno.exitCode==="number"&&Deno.exitCode!==0){
code=Deno.exitCode}exitNow(code,error===void 0?void 0:_toWireError(error))});
let ending;
try{
ending=_endChildren(code!==0)}finally{
if(ending===void 0)report()}return ending?.finally(report)});
if(_IN_WORKER){
_startImports();
Object.defineProperty(Deno,"exit",{
value:(code=0)=>exitNow(code),writable:true,configurable:true});
self.close=()=>exitNow(0)}var _main=(function _main(){
_endImports();
self.addEventListener("error",e=>{
e.preventDefault();
void finish(1,e.error??new Error(e.message))});
self.addEventListener("unhandledrejection",e=>{
e.preventDefault();
void finish(1,e.reason)});
const inbox=new _Inbox("this process");
let started=false;
const onMessage=(e=>{
const message2=e.data;
if(_deliverToActor(message2))return e.stopImmediatePropagation();
if(Array.isArray(message2))takeTasks(message2);
else if(message2.t==="mail")inbox.deliver(message2.data,message2.wired);
else if(message2.t==="init"&&!started){
started=true;
void run(message2,inbox)}});
self.addEventListener("message",onMessage);
const g=globalThis;
const key=Symbol.for(_EARLY_MESSAGES);
const held=g[key];
if(held){
delete g[key];
self.removeEventListener("message",held.hold);
for(const e of held.early)onMessage(e)}});
var run=(async function run(init,inbox){
selfPid=init.self.pid;
if(init.loaded){
const loaded=new Int32Array(init.loaded);
Atomics.store(loaded,0,1);
Atomics.notify(loaded,0)}_setContext({
self:init.self,parent:init.parent,postToParent:post,childPrefix:init.childPrefix,childCount:0,pids:new Int32Array(init.pids),workerOptions:init.workerOptions,liveness:init.liveness&&new Int32Array(init.liveness),inChannel:init.inChannel&&new Int32Array(init.inChannel)});
if(init.spec.kind==="pool")return servePool(init.spec,inbox);
if(init.spec.kind==="actor")return _runActor(init.spec,inbox,finish);
try{
const{
spec}=init;
exitCell=new Int32Array(spec.exitCell);
if(spec.up){
sent=exitCell;
up=spec.up}if(spec.wired){
_revive(spec.args);
_revive(spec.fields)}const target=_resolveTask(spec.task);
let result;
if(spec.mode==="subclass"){
const instance=Object.assign(Object.create(target.prototype),spec.fields);
_adoptSelf(instance,inbox);
result=instance.run()}else{
_adoptSelf(void 0,inbox);
result=target(...spec.args)}await result}catch(error){
return finish(1,error)}return finish(0)});
var FLUSH_MS=1;
var jobs=[];
var jobsHead=0;
var claims;
var jobLink;
var answerLink;
var PEAK_DECAY=.95;
var callMs=new Map;
var answers=[];
var answersSince=0;
var busyMs=0;
var pumping=false;
var poolServing=false;
var poolReady=Promise.withResolvers();
var servePool=(async function servePool(spec,inbox){
_adoptSelf(void 0,inbox);
claims=new Int32Array(spec.claims);
jobLink=new _Link(spec.jobs);
answerLink=new _Link(spec.answers);
if(spec.initializer){
try{
const init=_resolveTask(spec.initializer);
if(spec.wired)_revive(spec.initArgs);
await init(...spec.initArgs)}catch(error){
return finish(1,error)}post({
t:"ready"})}poolServing=true;
poolReady.resolve();
void readJobs(jobLink)});
var readJobs=(async function readJobs(link){
const take2=(()=>{
const message2=link.tryTake();
return message2!==_WOULD_WAIT?message2:link.closed?null:_WOULD_WAIT});
for(;
;
){
const message2=await link.wait(take2);
if(message2===null)return;
takeTasks(message2)}});
var pullJobs=(function pullJobs(){
for(let m=jobLink?.tryTake();
m!==void 0&&m!==_WOULD_WAIT;
m=jobLink.tryTake()){
queueTasks(m)}});
var takeTasks=(function takeTasks(message2){
queueTasks(message2);
if(!pumping)void pump()});
var queueTasks=(function queueTasks(message2){
const n=message2[1];
const refs2=[];
let i=2;
for(let r=0;
r<n;
r++,i+=2){
refs2.push({
module:message2[i],key:message2[i+1]})}for(;
i<message2.length;
i+=5){
jobs.push({
id:message2[i],ref:refs2[message2[i+1]],flags:message2[i+2],claim:message2[i+3],calls:message2[i+4]})}});
function mayBeLong(job){
const times=callMs.get(job.ref.module)?.get(job.ref.key);
return times===void 0||times.mean*job.calls.length>=FLUSH_MS||times.peak>=FLUSH_MS}var recordMs=(function recordMs(job,ms){
let keys2=callMs.get(job.ref.module);
if(!keys2)callMs.set(job.ref.module,keys2=new Map);
const sample=ms/Math.max(1,job.calls.length);
const old=keys2.get(job.ref.key);
if(old===void 0)keys2.set(job.ref.key,{
mean:sample,peak:sample});
else{
old.mean=old.mean*.7+sample*.3;
old.peak=Math.max(sample,old.peak*PEAK_DECAY)}});
var pump=(async function pump(){
pumping=true;
if(!poolServing)await poolReady.promise;
while(jobsHead<jobs.length||(pullJobs(),jobsHead<jobs.length)){
const job=jobs[jobsHead];
jobs[jobsHead++]=void 0;
if(Atomics.compareExchange(claims,job.claim,job.id,0)!==job.id)continue;
if(answers.length>0&&(performance.now()-answersSince>FLUSH_MS||mayBeLong(job)))flushAnswers();
const t0=performance.now();
let answer=runJob(job);
if(answer instanceof Promise)answer=await answer;
const ms=performance.now()-t0;
busyMs+=ms;
recordMs(job,ms);
if(answers.length===0)answersSince=t0;
answers.push(job.id,answer[0],answer[1])}jobs.length=0;
jobsHead=0;
pumping=false;
flushAnswers()});
var PACK_MIN=64;
var runJob=(function runJob(job){
const{
calls}=job;
const spread=(job.flags&TASK_SPREAD)!==0;
const n=calls.length;
const inPlace=calls instanceof Float64Array;
let packed=inPlace?calls:n>=PACK_MIN?new Float64Array(n):void 0;
let values=[];
let i=0;
try{
const fn=_resolveTask(job.ref);
if(job.flags&TASK_WIRED)_revive(calls);
for(;
i<n;
i++){
const value=spread?fn(...calls[i]):fn(calls[i]);
if(packed){
if(typeof value==="number"){
packed[i]=value;
continue}values=Array.from(packed.subarray(0,i));
packed=void 0}if(value instanceof Promise)return finishAsync(job,fn,values,value,i);
values.push(value)}}catch(error){
return[RESULT_ERROR,_toWireError(error)]}if(!packed)return[RESULT_VALUES,values];
return inPlace?[RESULT_IN_PLACE,void 0]:[RESULT_NUMBERS,packed]});
async function finishAsync(job,fn,values,pending,i){
const{
calls}=job;
const spread=(job.flags&TASK_SPREAD)!==0;
try{
values.push(await pending);
for(i++;
i<calls.length;
i++){
values.push(await(spread?fn(...calls[i]):fn(calls[i])))}}catch(error){
return[RESULT_ERROR,_toWireError(error)]}return[RESULT_VALUES,values]}var flushAnswers=(function flushAnswers(){
if(answers.length===0)return;
const flat=answers;
answers=[];
const message2=["R",busyMs,selfPid,...flat];
busyMs=0;
const transfer=[];
for(let i=1;
i<flat.length;
i+=3){
if(flat[i]===RESULT_NUMBERS){
transfer.push(flat[i+1].buffer)}}if(transfer.length===0&&answerLink?.trySend(message2))return;
try{
post(message2,transfer)}catch{
for(let i=0;
i<flat.length;
i+=3){
try{
post(["R",0,selfPid,flat[i],flat[i+1],flat[i+2]])}catch(error){
post(["R",0,selfPid,flat[i],RESULT_ERROR,_toWireError(error)])}}}});
_setRuntimeUrl(import.meta.url);
export{
Actor,ActorExited,ActorRef,AsyncResult,Barrier,BoundedSemaphore,BrokenBarrierError,CancelledError,ChannelClosedError,Condition,Connection,DictProxy,EOFError,Empty,EscalationError,Event,Full,Future,JoinableQueue,ListProxy,Lock,LockHolderDiedError,LockProxy,MailboxFull,Manager,ManagerStoppedError,NamespaceProxy,PermissionError,Pipe,Pool,Process,ProcessPoolExecutor,Queue,QueueProxy,RLock,RawArray,RawValue,RemoteError,Semaphore,SimpleQueue,Supervisor,SynchronizedArray,Value,ValueProxy,_main,activeChildren,asCompleted,cpuCount,currentProcess,mailbox,parentProcess,receive,spawn,task,wait};
