package dev.waypoint.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link ObjectStripper}: kind, object in → object kept (single-quoted JSON). */
class ObjectStripperTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            Service | {'metadata':{'name':'a','resourceVersion':'7','managedFields':[{}],'uid':'u','generation':2,'creationTimestamp':'x'},'spec':{'ports':[]},'status':{'loadBalancer':{}}} | {'metadata':{'name':'a'},'spec':{'ports':[]}}
            HTTPRoute | {'metadata':{'name':'r','annotations':{'kubectl.kubernetes.io/last-applied-configuration':'{}'}},'spec':{'rules':[]},'status':{'parents':[]}} | {'metadata':{'name':'r'},'spec':{'rules':[]}}
            ServiceEntry | {'metadata':{'name':'e'},'spec':{'hosts':['a.example']},'status':{'addresses':[{'value':'240.240.0.1','host':'a.example'}],'conditions':[{}]}} | {'metadata':{'name':'e'},'spec':{'hosts':['a.example']},'status':{'addresses':[{'value':'240.240.0.1','host':'a.example'}]}}
            ServiceEntry | {'metadata':{'name':'e'},'spec':{'hosts':['a.example']},'status':{'conditions':[{}]}} | {'metadata':{'name':'e'},'spec':{'hosts':['a.example']}}
            AuthorizationPolicy | {'metadata':{'name':'p','annotations':{'istio.io/dry-run':'true','kubectl.kubernetes.io/last-applied-configuration':'{}'}},'spec':{}} | {'metadata':{'name':'p','annotations':{'istio.io/dry-run':'true'}},'spec':{}}
            Pod | {'metadata':{'name':'p','labels':{'app':'x'},'ownerReferences':[{}]},'spec':{'serviceAccountName':'sa','volumes':[{}],'initContainers':[{}],'containers':[{'name':'c','image':'i','env':[{}],'ports':[{'name':'http','containerPort':80}]}]},'status':{'podIP':'10.0.0.1','podIPs':[{'ip':'10.0.0.1'}],'hostIP':'h','phase':'Running','containerStatuses':[{}],'conditions':[{'type':'Ready','status':'True','lastTransitionTime':'t'}]}} | {'metadata':{'name':'p','labels':{'app':'x'},'ownerReferences':[{}]},'spec':{'serviceAccountName':'sa','containers':[{'name':'c','ports':[{'name':'http','containerPort':80}]}]},'status':{'podIP':'10.0.0.1','podIPs':[{'ip':'10.0.0.1'}],'phase':'Running','conditions':[{'type':'Ready','status':'True'}]}}
            Pod | {'metadata':{'name':'p','deletionTimestamp':'2026-01-02T03:04:05Z','deletionGracePeriodSeconds':30,'annotations':{'sidecar.istio.io/status':'{}','ambient.istio.io/redirection':'enabled'}},'spec':{'hostNetwork':true,'dnsPolicy':'ClusterFirstWithHostNet'}} | {'metadata':{'name':'p','deletionTimestamp':'2026-01-02T03:04:05Z','annotations':{'sidecar.istio.io/status':'{}','ambient.istio.io/redirection':'enabled'}},'spec':{'hostNetwork':true}}
            Pod | {'metadata':{'name':'reviews-v1-7d9f8c6b5d-x2k4q','generateName':'reviews-v1-7d9f8c6b5d-','uid':'u','ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'reviews-v1-7d9f8c6b5d','uid':'r','controller':true,'blockOwnerDeletion':true}]}} | {'metadata':{'name':'reviews-v1-7d9f8c6b5d-x2k4q','generateName':'reviews-v1-7d9f8c6b5d-','ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':'reviews-v1-7d9f8c6b5d','controller':true}]}}
            Service | {'metadata':{'name':'a','generateName':'a-','ownerReferences':[{'kind':'X','name':'x'}]},'spec':{'ports':[]}} | {'metadata':{'name':'a'},'spec':{'ports':[]}}
            Service | {'metadata':{'name':'a','deletionTimestamp':'2026-01-02T03:04:05Z'},'spec':{'ports':[]}} | {'metadata':{'name':'a'},'spec':{'ports':[]}}
            ConfigMap | {'metadata':{'name':'istio'},'data':{'mesh':'m','meshNetworks':'n'},'binaryData':{'b':'AA=='}} | {'metadata':{'name':'istio'},'data':{'mesh':'m'}}
            Secret | {'metadata':{'name':'r','namespace':'a','labels':{'l':'v'},'annotations':{'n':'v'}},'type':'kubernetes.io/dockerconfigjson','immutable':true,'data':{'.dockerconfigjson':'e30=','x':'eA=='}} | {'metadata':{'name':'r','namespace':'a'},'type':'kubernetes.io/dockerconfigjson','data':{'.dockerconfigjson':'e30='}}
            Secret | {'metadata':{'name':'r'},'type':'kubernetes.io/dockercfg','data':{'.dockercfg':'e30=','.dockerconfigjson':'eA=='}} | {'metadata':{'name':'r'},'type':'kubernetes.io/dockercfg','data':{'.dockercfg':'e30='}}
            Secret | {'metadata':{'name':'r'},'type':'Opaque','data':{'password':'eA=='}} | {'metadata':{'name':'r'},'type':'Opaque'}
            Secret | {'metadata':{'name':'r'},'type':'Opaque','data':{'cert':'Yw==','key':'aw==','cacert':'YQ==','crl':'eA==','password':'eA=='}} | {'metadata':{'name':'r'},'type':'Opaque','data':{'cert':'Yw==','key':'aw==','cacert':'YQ=='}}
            Secret | {'metadata':{'name':'r'},'type':'kubernetes.io/tls','data':{'tls.crt':'Yw==','tls.key':'aw==','ca.crt':'YQ==','ca.crl':'eA=='}} | {'metadata':{'name':'r'},'type':'kubernetes.io/tls','data':{'tls.crt':'Yw==','tls.key':'aw==','ca.crt':'YQ=='}}
            Secret | {'metadata':{'name':'r'},'type':'kubernetes.io/service-account-token','data':{'token':'eA==','ca.crt':'YQ=='}} | {'metadata':{'name':'r'},'type':'kubernetes.io/service-account-token'}
            """)
    void keepsWhatTheTranslatorsRead(String kind, String in, String kept) throws Exception {
        ObjectNode tree = (ObjectNode) JSON.readTree(in.replace('\'', '"'));
        assertThat(ObjectStripper.strip(tree, kind)).isEqualTo(JSON.readTree(kept.replace('\'', '"')));
    }
}
